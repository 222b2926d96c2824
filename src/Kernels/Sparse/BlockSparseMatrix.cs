using System.Buffers;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// Block-sparse rows (BSR): the matrix is cut into R × C tiles (edge tiles padded with zeros); only tiles holding a
/// non-zero are stored, densely and row-major, block row by block row, with each tile's block-column index and a pointer
/// per block row. With R a multiple of 4, C = WB loads every row of B once per four output rows (4×1 tiles cost a
/// quarter of CSR's loads of B); with C &gt; 1 the inputs of a tile are consecutive.
/// </summary>
public sealed class BlockSparseMatrix : IWeightMatrix
{
    private readonly int[] _rowPointers;
    private readonly int[] _blockColumns;
    private readonly float[] _values;

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
        if (tileRows < 1 || tileColumns < 1 || tileRows > rows || tileColumns > columns)
        {
            throw new ArgumentException($"Tiles of a {rows} × {columns} matrix must be between 1 × 1 and the matrix; got {tileRows} × {tileColumns}.");
        }

        var blockRows = (rows + tileRows - 1) / tileRows;
        var blockCols = (columns + tileColumns - 1) / tileColumns;
        if (rowPointers.Length != blockRows + 1 || (long)blockColumns.Length * tileRows * tileColumns != values.Length)
        {
            throw new ArgumentException($"{blockRows} block rows of {tileRows} × {tileColumns} tiles need {blockRows + 1} row pointers and {tileRows * tileColumns} values per tile; got {rowPointers.Length} pointers, {blockColumns.Length} tiles and {values.Length} values.");
        }

        if (rowPointers[0] != 0 || rowPointers[blockRows] != blockColumns.Length)
        {
            throw new ArgumentException($"Row pointers must run from 0 to the {blockColumns.Length} tiles; they run from {rowPointers[0]} to {rowPointers[blockRows]}.");
        }

        for (var r = 0; r < blockRows; r++)
        {
            if (rowPointers[r + 1] < rowPointers[r])
            {
                throw new ArgumentException($"Row pointer {r + 1} ({rowPointers[r + 1]}) is below row pointer {r} ({rowPointers[r]}).");
            }
        }

        for (var t = 0; t < blockColumns.Length; t++)
        {
            if ((uint)blockColumns[t] >= (uint)blockCols)
            {
                throw new ArgumentException($"Tile {t} is in block column {blockColumns[t]}, outside [0, {blockCols}).");
            }
        }

        Rows = rows;
        Columns = columns;
        TileRows = tileRows;
        TileColumns = tileColumns;
        BlockRows = blockRows;
        _rowPointers = rowPointers;
        _blockColumns = blockColumns;
        _values = values;
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
        if (tileRows < 1 || tileColumns < 1 || tileRows > rows || tileColumns > columns)
        {
            throw new ArgumentException($"Tiles of a {rows} × {columns} matrix must be between 1 × 1 and the matrix; got {tileRows} × {tileColumns}.");
        }

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
    public unsafe void MultiplyVector(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> bias = default)
    {
        WeightChecks.Vector(this, x.Length, y.Length, bias.Length);
        var cap = Math.Max(1, MaxTilesPerBlockRow() * TileColumns);
        var vals = ArrayPool<float>.Shared.Rent(cap);
        var cols = ArrayPool<int>.Shared.Rent(cap);
        try
        {
            fixed (float* px = x, pv = vals)
            fixed (int* pc = cols)
            {
                for (var r = 0; r < Rows; r++)
                {
                    var count = ExpandRow(r, vals, cols);
                    var s = SparseKernels.Dot(pv, pc, count, px);
                    y[r] = bias.IsEmpty ? s : s + bias[r];
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(vals);
            ArrayPool<int>.Shared.Return(cols);
        }
    }

    /// <inheritdoc/>
    public unsafe void Multiply(ReadOnlySpan<float> b, int n, Span<float> c, ReadOnlySpan<float> bias = default)
    {
        WeightChecks.Product(this, b.Length, n, c.Length, bias.Length);
        var cap = Math.Max(1, MaxTilesPerBlockRow() * TileColumns);
        fixed (float* pb0 = b, pc0 = c, pbias0 = bias)
        {
            var (pb, pc, pbias) = ((nint)pb0, (nint)pc0, (nint)pbias0);
            SparseParallel.For(BlockRows, n, _values.Length * (long)n, (br0, br1, j0, j1) =>
            {
                var vals = ArrayPool<float>.Shared.Rent(cap);
                var cols = ArrayPool<int>.Shared.Rent(cap);
                var bias4 = stackalloc float[4];
                try
                {
                    fixed (float* pv = _values, pvals = vals)
                    fixed (int* pbc = _blockColumns, pcols = cols)
                    {
                        for (var br = br0; br < br1; br++)
                        {
                            var first = _rowPointers[br];
                            var tiles = _rowPointers[br + 1] - first;
                            var i = 0;
                            for (; TileRows % 4 == 0 && i + 4 <= TileRows && (br * TileRows) + i + 4 <= Rows; i += 4)
                            {
                                var r = (br * TileRows) + i;
                                for (var k = 0; k < 4; k++)
                                {
                                    bias4[k] = pbias == 0 ? 0f : ((float*)pbias)[r + k];
                                }

                                SparseKernels.AxpyTileRows4((float*)pc + ((nint)r * n), n, (float*)pb, n, j0, j1, bias4,
                                    pv + ((long)first * TileRows * TileColumns), pbc + first, tiles, TileRows, TileColumns, i, Columns);
                            }

                            for (; i < TileRows && (br * TileRows) + i < Rows; i++)
                            {
                                var r = (br * TileRows) + i;
                                var count = ExpandRow(r, vals, cols);
                                var bias0 = pbias == 0 ? 0f : ((float*)pbias)[r];
                                SparseKernels.AxpyRow((float*)pc + ((nint)r * n), (float*)pb, n, j0, j1, bias0, pvals, pcols, count);
                            }
                        }
                    }
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(vals);
                    ArrayPool<int>.Shared.Return(cols);
                }
            }, _rowPointers);
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

    private int MaxTilesPerBlockRow()
    {
        var max = 0;
        for (var br = 0; br < BlockRows; br++)
        {
            max = Math.Max(max, _rowPointers[br + 1] - _rowPointers[br]);
        }

        return max;
    }

    /// <summary>Row r's stored values and their columns (inside the matrix), tile by tile; returns their count.</summary>
    private int ExpandRow(int r, float[] vals, int[] cols)
    {
        var (br, i) = (r / TileRows, r % TileRows);
        var count = 0;
        for (var t = _rowPointers[br]; t < _rowPointers[br + 1]; t++)
        {
            var first = _blockColumns[t] * TileColumns;
            var width = Math.Min(TileColumns, Columns - first);
            var src = (((long)t * TileRows) + i) * TileColumns;
            for (var j = 0; j < width; j++)
            {
                vals[count] = _values[src + j];
                cols[count++] = first + j;
            }
        }

        return count;
    }
}
