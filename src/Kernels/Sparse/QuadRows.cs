using System.Runtime.CompilerServices;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// Rows taken four at a time for C = WB, so that an input several of the four rows keep is read from B once. A row of C
/// is a sum of B's rows scaled by the row's kept weights, and loads bound that product: per weight four 512-bit loads of
/// B, a broadcast and a quarter of an index load for four FMAs, where the dense tile loads a register of B per four FMAs.
/// Per quad and chunk of <see cref="ChunkRows"/> inputs (so that the chunk of B stays in L1) the inputs fall into fifteen
/// lists, one per non-empty subset of the four rows that keeps them, and each list runs a loop compiled for its subset:
/// B's row loaded once, then a broadcast and four FMAs for each row of the subset. Four random 2:4 rows leave one input
/// in sixteen unused and keep the rest two at a time on average, so a weight costs about three loads instead of the 4.4
/// of rows taken in pairs, and the FMAs rather than the loads bound the product (300 × 784 at 2:4 and 64 columns: 118–130
/// µs on one core against 138 in pairs and 173–180 dense). The kernel (<see cref="QuadTile512"/>) is written for 512-bit
/// registers and tiles of 32 or 64 columns; other widths and instruction sets run the pairs.
/// </summary>
internal sealed unsafe class QuadRows
{
    /// <summary>Inputs per chunk, as <see cref="RowStore.DefaultChunkRows"/>.</summary>
    public const int ChunkRows = RowStore.DefaultChunkRows;

    /// <summary>Lists per quad and chunk: the non-empty subsets of four rows, masks 1 … 15.</summary>
    public const int Lists = 15;

    private readonly int _rows;
    private readonly int _chunks;
    private readonly float[] _values;
    private readonly byte[] _inputs;

    /// <summary>Where list m (1 … 15) of quad q, chunk k starts in <see cref="_inputs"/>: [((q·chunks) + k)·15 + m − 1]; one more entry ends the last.</summary>
    private readonly int[] _inputAt;

    /// <summary>Where the same list's values start (popcount(m) per input, in row order).</summary>
    private readonly int[] _valueAt;

    /// <summary>
    /// Groups rows 4q … 4q + 3 of the rows given as (value, column) entries; exact zeros are left out, entries at one place
    /// add up.
    /// </summary>
    public QuadRows(int rows, int columns, float[] values, int[] cols, int[] rowPointers)
    {
        _rows = rows;
        _chunks = (columns + ChunkRows - 1) / ChunkRows;
        var quads = (rows + 3) / 4;
        WeightChecks.Auxiliary((2L * values.Length) + (2L * Lists * quads * _chunks), $"The row quads of a {rows} × {columns} sparse matrix");
        var dense = new float[4 * columns];
        var masks = new byte[columns];
        var outValues = new List<float>(values.Length);
        var outInputs = new List<byte>(values.Length);
        _inputAt = new int[(Lists * quads * _chunks) + 1];
        _valueAt = new int[_inputAt.Length];
        var lists = new List<byte>[Lists + 1];
        for (var m = 1; m <= Lists; m++)
        {
            lists[m] = [];
        }

        for (var q = 0; q < quads; q++)
        {
            for (var r = 0; r < 4 && (4 * q) + r < rows; r++)
            {
                for (var e = rowPointers[(4 * q) + r]; e < rowPointers[(4 * q) + r + 1]; e++)
                {
                    dense[(r * columns) + cols[e]] += values[e];
                }
            }

            for (var j = 0; j < columns; j++)
            {
                masks[j] = (byte)((dense[j] != 0 ? 1 : 0) | (dense[columns + j] != 0 ? 2 : 0) | (dense[(2 * columns) + j] != 0 ? 4 : 0) | (dense[(3 * columns) + j] != 0 ? 8 : 0));
            }

            for (var k = 0; k < _chunks; k++)
            {
                var (k0, k1) = (k * ChunkRows, Math.Min(columns, (k + 1) * ChunkRows));
                for (var j = k0; j < k1; j++)
                {
                    if (masks[j] != 0)
                    {
                        lists[masks[j]].Add((byte)(j - k0));
                    }
                }

                for (var m = 1; m <= Lists; m++)
                {
                    var at = (((q * _chunks) + k) * Lists) + m - 1;
                    (_inputAt[at], _valueAt[at]) = (outInputs.Count, outValues.Count);
                    foreach (var input in lists[m])
                    {
                        outInputs.Add(input);
                        for (var r = 0; r < 4; r++)
                        {
                            if ((m & (1 << r)) != 0)
                            {
                                outValues.Add(dense[(r * columns) + k0 + input]);
                            }
                        }
                    }

                    lists[m].Clear();
                }
            }

            Array.Clear(dense);
        }

        (_inputAt[^1], _valueAt[^1]) = (outInputs.Count, outValues.Count);
        (_values, _inputs) = ([.. outValues], [.. outInputs]);
    }

    /// <summary>Whether this process runs the quad kernel: it is written for 512-bit registers (<see cref="QuadTile512"/>).</summary>
    public static bool Supported => SimdPaths.Current == SimdPath.Avx512;

    /// <summary>Columns per register of the quad kernel.</summary>
    private const int Lanes = 16;

    /// <summary>The columns of a product of n columns that the quad kernel takes: whole tiles of two 512-bit registers.</summary>
    public static int WideColumns(int n) => Supported ? n / (2 * Lanes) * (2 * Lanes) : 0;

    /// <summary>
    /// Columns [0, <paramref name="j1"/>) of C = WB + b1ᵀ (lengths checked by the caller; j1 a multiple of 32, needs
    /// <see cref="Supported"/>), split over the cores at whole quads.
    /// </summary>
    public void Multiply(ReadOnlySpan<float> b, int n, Span<float> c, ReadOnlySpan<float> bias, bool relu, int j1)
    {
        fixed (float* pb0 = b, pc0 = c, pbias0 = bias)
        {
            var (pb, pc, pbias) = ((nint)pb0, (nint)pc0, bias.IsEmpty ? 0 : (nint)pbias0);
            SparseParallel.For((_rows + 3) / 4, j1, (long)_values.Length * j1, (q0, q1, c0, c1) => MultiplyRange(q0, q1, c0, c1, (float*)pb, n, (float*)pc, (float*)pbias),
                rectify: relu ? new SparseParallel.Rectifier(pc0, n, _rows, 4) : default);
        }
    }

    /// <summary>Quads [q0, q1) and columns [j0, j1) of C on the calling thread (j0, j1 multiples of 32): tile of C by chunk of B, a kernel call per quad.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public void MultiplyRange(int q0, int q1, int j0, int j1, float* b, int n, float* c, float* bias)
    {
        fixed (float* values = _values)
        fixed (byte* inputs = _inputs)
        fixed (int* inputAt = _inputAt, valueAt = _valueAt)
        {
            for (var t = j0; t < j1; t += RowStore.TileColumns)
            {
                for (var k = 0; k < _chunks; k++)
                {
                    var bk = b + ((nint)k * ChunkRows * n) + t;
                    var four = t + (4 * Lanes) <= j1;
                    for (var q = q0; q < q1; q++)
                    {
                        var at = ((q * _chunks) + k) * Lists;
                        if (k > 0 && inputAt[at] == inputAt[at + Lists])
                        {
                            continue;
                        }

                        var r = 4 * q;
                        var quad = new Quad(Row(c, r, n), Row(c, r + 1, n), Row(c, r + 2, n), Row(c, r + 3, n), k > 0,
                            Bias(bias, r), Bias(bias, r + 1), Bias(bias, r + 2), Bias(bias, r + 3), inputs, values, inputAt + at, valueAt + at);
                        if (four)
                        {
                            QuadTile512.Run<FourRegisters>(quad, bk, n, t);
                        }
                        else
                        {
                            QuadTile512.Run<TwoRegisters>(quad, bk, n, t);
                        }
                    }
                }
            }
        }
    }

    /// <summary>Row r of C, or null past the last row.</summary>
    private float* Row(float* c, int r, int n) => r < _rows ? c + ((nint)r * n) : null;

    /// <summary>Row r's bias (zero without one, or past the last row).</summary>
    private float Bias(float* bias, int r) => bias == null || r >= _rows ? 0f : bias[r];
}

/// <summary>One quad's lists in one chunk, and where its rows of C are (null for rows past the last).</summary>
internal readonly unsafe struct Quad(float* c0, float* c1, float* c2, float* c3, bool accumulate, float bias0, float bias1, float bias2, float bias3,
    byte* inputs, float* values, int* inputAt, int* valueAt)
{
    public readonly float* C0 = c0;
    public readonly float* C1 = c1;
    public readonly float* C2 = c2;
    public readonly float* C3 = c3;

    /// <summary>Sums start from C (after the first chunk) rather than from the bias.</summary>
    public readonly bool Accumulate = accumulate;
    public readonly float Bias0 = bias0;
    public readonly float Bias1 = bias1;
    public readonly float Bias2 = bias2;
    public readonly float Bias3 = bias3;

    /// <summary>All inputs and values of the layout.</summary>
    public readonly byte* Inputs = inputs;
    public readonly float* Values = values;

    /// <summary>The 16 list boundaries of this quad and chunk (list m is [at[m − 1], at[m])).</summary>
    public readonly int* InputAt = inputAt;
    public readonly int* ValueAt = valueAt;
}
