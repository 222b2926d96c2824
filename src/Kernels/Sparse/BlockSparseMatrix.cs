using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// Block-sparse rows (BSR): the matrix is cut into R × C tiles (edge tiles padded with zeros); only tiles holding a
/// non-zero are stored, densely and row-major, block row by block row, with each tile's block-column index and a pointer
/// per block row. With R a multiple of 4, C = WB loads every row of B once per four output rows (4×1 tiles cost a
/// quarter of CSR's loads of B); with C &gt; 1 the inputs of a tile are consecutive. Rows outside whole groups of four
/// (R not a multiple of 4, or the last rows of a matrix whose row count is not) run from a decoded copy of their entries.
/// </summary>
public sealed class BlockSparseMatrix : IWeightMatrix
{
    private readonly int[] _rowPointers;
    private readonly int[] _blockColumns;
    private readonly float[] _values;
    private readonly int _chunkRows;
    private readonly int[] _chunkPointers;
    private readonly RowStore? _rowsApart;

    /// <summary>Wraps the arrays after checking them (kept, not copied).</summary>
    /// <param name="rows">Output features.</param>
    /// <param name="columns">Input features.</param>
    /// <param name="tileRows">R ≥ 1.</param>
    /// <param name="tileColumns">C ≥ 1.</param>
    /// <param name="rowPointers">⌈rows/R⌉ + 1 pointers into the tiles.</param>
    /// <param name="blockColumns">Each tile's block column, in [0, ⌈columns/C⌉).</param>
    /// <param name="values">tiles × R·C values.</param>
    /// <exception cref="ArgumentException">Inconsistent lengths or pointers, or a block column out of range.</exception>
    public BlockSparseMatrix(int rows, int columns, int tileRows, int tileColumns, int[] rowPointers, int[] blockColumns, float[] values)
    {
        WeightChecks.Shape(rows, columns);
        ArgumentNullException.ThrowIfNull(rowPointers);
        ArgumentNullException.ThrowIfNull(blockColumns);
        ArgumentNullException.ThrowIfNull(values);
        WeightChecks.Tiles(rows, columns, tileRows, tileColumns);
        var blockRows = (rows + tileRows - 1) / tileRows;
        var blockCols = (columns + tileColumns - 1) / tileColumns;
        WeightChecks.CompressedRows(blockRows, blockCols, rowPointers, blockColumns, values.Length, tileRows * tileColumns, "block column", "tiles", nameof(blockColumns));
        (Rows, Columns, TileRows, TileColumns, BlockRows) = (rows, columns, tileRows, tileColumns, blockRows);
        (_rowPointers, _blockColumns, _values) = (rowPointers, blockColumns, values);
        _chunkRows = Math.Max(1, RowStore.DefaultChunkRows / tileColumns) * tileColumns;
        var blockColumnsPerChunk = _chunkRows / tileColumns;
        var scaled = Array.ConvertAll(blockColumns, bc => bc / blockColumnsPerChunk);
        _chunkPointers = RowStore.ScanChunks(blockRows, (blockCols + blockColumnsPerChunk - 1) / blockColumnsPerChunk, scaled, rowPointers, 1);
        if (tileRows % 4 != 0 || rows % 4 != 0)
        {
            _rowsApart = Decode();
        }
    }

    /// <inheritdoc/>
    public int Rows { get; }

    /// <inheritdoc/>
    public int Columns { get; }

    /// <summary>R.</summary>
    public int TileRows { get; }

    /// <summary>C.</summary>
    public int TileColumns { get; }

    /// <summary>⌈rows/R⌉.</summary>
    public int BlockRows { get; }

    /// <summary>Block-row pointers into the tiles.</summary>
    public ReadOnlySpan<int> RowPointers => _rowPointers;

    /// <summary>Each stored tile's block column.</summary>
    public ReadOnlySpan<int> BlockColumns => _blockColumns;

    /// <summary>The tiles' values, R·C per tile, row-major inside the tile.</summary>
    public ReadOnlySpan<float> Values => _values;

    /// <summary>Stored tiles.</summary>
    public int Tiles => _blockColumns.Length;

    /// <inheritdoc/>
    public WeightFormat Format => WeightFormat.Block;

    /// <inheritdoc/>
    public long StoredValues => _values.Length;

    /// <inheritdoc/>
    public long StoredBytes => (4L * _rowPointers.Length) + (4L * _blockColumns.Length) + (4L * _values.Length);

    /// <summary>The R × C tiles of a row-major dense matrix that hold a non-zero.</summary>
    public static BlockSparseMatrix FromDense(ReadOnlySpan<float> dense, int rows, int columns, int tileRows, int tileColumns)
    {
        WeightChecks.Dense(dense.Length, rows, columns);
        WeightChecks.Tiles(rows, columns, tileRows, tileColumns);

        var blockRows = (rows + tileRows - 1) / tileRows;
        var blockCols = (columns + tileColumns - 1) / tileColumns;
        var pointers = new int[blockRows + 1];
        var cols = new List<int>();
        var values = new List<float>();
        for (var br = 0; br < blockRows; br++)
        {
            for (var bc = 0; bc < blockCols; bc++)
            {
                var any = false;
                for (var i = br * tileRows; i < Math.Min(rows, (br + 1) * tileRows) && !any; i++)
                {
                    for (var j = bc * tileColumns; j < Math.Min(columns, (bc + 1) * tileColumns) && !any; j++)
                    {
                        any = dense[(i * columns) + j] != 0;
                    }
                }

                if (!any)
                {
                    continue;
                }

                cols.Add(bc);
                for (var i = 0; i < tileRows; i++)
                {
                    for (var j = 0; j < tileColumns; j++)
                    {
                        var (r, c) = ((br * tileRows) + i, (bc * tileColumns) + j);
                        values.Add(r < rows && c < columns ? dense[(r * columns) + c] : 0f);
                    }
                }
            }

            pointers[br + 1] = cols.Count;
        }

        return new BlockSparseMatrix(rows, columns, tileRows, tileColumns, pointers, [.. cols], [.. values]);
    }

    /// <inheritdoc/>
    public unsafe void MultiplyVector(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> bias = default, bool relu = false)
    {
        WeightChecks.Vector(this, x.Length, y.Length, bias.Length);
        var acc = stackalloc float[TileRows];
        fixed (float* px = x, pv = _values)
        {
            for (var br = 0; br < BlockRows; br++)
            {
                new Span<float>(acc, TileRows).Clear();
                for (var t = _rowPointers[br]; t < _rowPointers[br + 1]; t++)
                {
                    var first = _blockColumns[t] * TileColumns;
                    var width = Math.Min(TileColumns, Columns - first);
                    var tile = pv + ((long)t * TileRows * TileColumns);
                    if (TileColumns == 1)
                    {
                        // An R × 1 tile is one contiguous column: R products with the same input.
                        TileColumn(tile, px[first], acc, TileRows);
                        continue;
                    }

                    for (var i = 0; i < TileRows; i++)
                    {
                        var s = acc[i];
                        for (var k = 0; k < width; k++)
                        {
                            s = MathF.FusedMultiplyAdd(tile[(i * TileColumns) + k], px[first + k], s);
                        }

                        acc[i] = s;
                    }
                }

                for (var i = 0; i < TileRows && (br * TileRows) + i < Rows; i++)
                {
                    var r = (br * TileRows) + i;
                    y[r] = bias.IsEmpty ? acc[i] : acc[i] + bias[r];
                }
            }
        }

        if (relu)
        {
            TensorPrimitives.Max(y, 0f, y);
        }
    }

    /// <inheritdoc/>
    public unsafe void Multiply(ReadOnlySpan<float> b, int n, Span<float> c, ReadOnlySpan<float> bias = default, bool relu = false)
    {
        WeightChecks.Product(this, b.Length, n, c.Length, bias.Length);
        fixed (float* pb0 = b, pc0 = c, pbias0 = bias)
        {
            var (pb, pc, pbias) = ((nint)pb0, (nint)pc0, (nint)pbias0);
            SparseParallel.For(BlockRows, n, _values.Length * (long)n,
                (br0, br1, j0, j1) => MultiplyRange(br0, br1, j0, j1, (float*)pb, n, (float*)pc, (float*)pbias), _rowPointers,
                rectify: relu ? new SparseParallel.Rectifier(pc0, n, Rows, TileRows) : default);
        }
    }

    /// <inheritdoc/>
    public float[] ToDense()
    {
        var d = new float[(long)Rows * Columns];
        for (var br = 0; br < BlockRows; br++)
        {
            for (var t = _rowPointers[br]; t < _rowPointers[br + 1]; t++)
            {
                for (var i = 0; i < TileRows; i++)
                {
                    for (var j = 0; j < TileColumns; j++)
                    {
                        var (r, c) = ((br * TileRows) + i, (_blockColumns[t] * TileColumns) + j);
                        if (r < Rows && c < Columns)
                        {
                            d[((long)r * Columns) + c] += _values[(((long)t * TileRows) + i) * TileColumns + j];
                        }
                    }
                }
            }
        }

        return d;
    }

    private static unsafe void TileColumn(float* tile, float x, float* acc, int rows)
    {
        var i = 0;
        var xv = Vector128.Create(x);
        for (; i + 4 <= rows; i += 4)
        {
            Vector128.FusedMultiplyAdd(Vector128.Load(tile + i), xv, Vector128.Load(acc + i)).Store(acc + i);
        }

        for (; i < rows; i++)
        {
            acc[i] = MathF.FusedMultiplyAdd(tile[i], x, acc[i]);
        }
    }

    /// <summary>Block rows [br0, br1) and columns [j0, j1) of C = WB + b1ᵀ: tile of C by chunk of B by group of four rows.</summary>
    private unsafe void MultiplyRange(int br0, int br1, int j0, int j1, float* b, int n, float* c, float* bias)
    {
        var bias4 = stackalloc float[4];
        var stride = ((Columns + _chunkRows - 1) / _chunkRows) + 1;
        fixed (float* pv = _values)
        fixed (int* pbc = _blockColumns, pp = _chunkPointers)
        {
            for (var t0 = j0; t0 < j1; t0 += RowStore.TileColumns)
            {
                var t1 = Math.Min(j1, t0 + RowStore.TileColumns);
                for (var br = br0; br < br1; br++)
                {
                    var groups = TileRows % 4 == 0 ? Math.Min(TileRows, Rows - (br * TileRows)) / 4 : 0;
                    for (var k = 0; k + 1 < stride; k++)
                    {
                        var (first, last) = (pp[(br * stride) + k], pp[(br * stride) + k + 1]);
                        if (k > 0 && first == last)
                        {
                            continue;
                        }

                        for (var g = 0; g < groups; g++)
                        {
                            var r = (br * TileRows) + (4 * g);
                            for (var i = 0; i < 4; i++)
                            {
                                bias4[i] = bias == null ? 0f : bias[r + i];
                            }

                            SparseKernels.AxpyTileRows4(c + ((nint)r * n), n, b, n, t0, t1, k > 0, bias4,
                                pv + ((long)first * TileRows * TileColumns), pbc + first, last - first, TileRows, TileColumns, 4 * g, Columns);
                        }
                    }

                    var apart = (br * TileRows) + (4 * groups);
                    var end = Math.Min(Rows, (br + 1) * TileRows);
                    if (apart < end)
                    {
                        _rowsApart!.MultiplyRange(apart, end, t0, t1, b, n, c, bias);
                    }
                }
            }
        }
    }

    /// <summary>Every row's entries (inside the matrix) as a <see cref="RowStore"/>, tile by tile.</summary>
    private RowStore Decode()
    {
        var pointers = new int[Rows + 1];
        var vals = new List<float>();
        var cols = new List<int>();
        for (var r = 0; r < Rows; r++)
        {
            var (br, i) = (r / TileRows, r % TileRows);
            for (var t = _rowPointers[br]; t < _rowPointers[br + 1]; t++)
            {
                var first = _blockColumns[t] * TileColumns;
                for (var j = 0; j < Math.Min(TileColumns, Columns - first); j++)
                {
                    vals.Add(_values[((((long)t * TileRows) + i) * TileColumns) + j]);
                    cols.Add(first + j);
                }
            }

            pointers[r + 1] = cols.Count;
        }

        int[] c = [.. cols];
        return new RowStore(Rows, Columns, [.. vals], c, pointers, RowStore.DefaultChunkRows,
            RowStore.ScanChunks(Rows, Columns, c, pointers, RowStore.DefaultChunkRows));
    }
}
