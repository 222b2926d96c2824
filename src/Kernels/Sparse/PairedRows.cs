using System.Runtime.Intrinsics;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// Rows taken in pairs for C = WB, so that an input both rows of a pair use is read from B once. A row of C is a sum of
/// B's rows scaled by the row's values: four 512-bit loads of B, a broadcast of the value and a quarter of an index load
/// per kept weight, for four FMAs, and the loads bound that product (a dense tile's loaded register of B serves four
/// rows). Per pair and chunk of <see cref="ChunkRows"/> inputs (as in <see cref="RowStore"/>, so that the chunk of B stays
/// in L1): the inputs both rows use, with both values; then the first row's own inputs; then the second's. Two random 2:4
/// rows share one input of each group of four on average, so half the kept weights come in shared pairs that take 3.5
/// loads each (B's row once for two weights, two broadcasts, an index) instead of 5.25.
/// </summary>
internal sealed unsafe class PairedRows
{
    /// <summary>Inputs per chunk, as <see cref="RowStore.DefaultChunkRows"/>.</summary>
    public const int ChunkRows = RowStore.DefaultChunkRows;

    private readonly int _chunks;
    private readonly int _rows;
    private readonly float[] _sharedValues;
    private readonly byte[] _sharedInputs;
    private readonly float[] _ownValues;
    private readonly byte[] _ownInputs;
    private readonly int[] _sharedAt;
    private readonly int[] _ownAt;
    private readonly int[] _secondAt;

    /// <summary>
    /// Pairs rows 2p and 2p + 1 of the rows given as (value, column) entries; exact zeros are left out, entries at one place
    /// add up. Pairing each row with the row among the next 64 that shares most inputs with it (55% of a 2:4 layer's weights
    /// shared instead of 50%) ran about 1% faster: not worth the search.
    /// </summary>
    public PairedRows(int rows, int columns, float[] values, int[] cols, int[] rowPointers)
    {
        _chunks = (columns + ChunkRows - 1) / ChunkRows;
        var pairs = (rows + 1) / 2;
        _rows = rows;
        WeightChecks.Auxiliary((2L * values.Length) + (3L * pairs * _chunks), $"The paired rows of a {rows} × {columns} sparse matrix");
        var shared = new List<float>();
        var sharedInputs = new List<byte>();
        var own = new List<float>();
        var ownInputs = new List<byte>();
        _sharedAt = new int[(pairs * _chunks) + 1];
        _ownAt = new int[(pairs * _chunks) + 1];
        _secondAt = new int[pairs * _chunks];
        var first = new float[columns];
        var second = new float[columns];
        var inFirst = new bool[columns];
        var inSecond = new bool[columns];
        for (var p = 0; p < pairs; p++)
        {
            Spread(2 * p, values, cols, rowPointers, first, inFirst);
            if ((2 * p) + 1 < rows)
            {
                Spread((2 * p) + 1, values, cols, rowPointers, second, inSecond);
            }

            for (var k = 0; k < _chunks; k++)
            {
                var q = (p * _chunks) + k;
                var (k0, k1) = (k * ChunkRows, Math.Min(columns, (k + 1) * ChunkRows));
                for (var j = k0; j < k1; j++)
                {
                    if (inFirst[j] && inSecond[j])
                    {
                        shared.Add(first[j]);
                        shared.Add(second[j]);
                        sharedInputs.Add((byte)(j - k0));
                    }
                }

                Own(first, inFirst, inSecond, k0, k1, own, ownInputs);
                _secondAt[q] = own.Count;
                Own(second, inSecond, inFirst, k0, k1, own, ownInputs);
                (_sharedAt[q + 1], _ownAt[q + 1]) = (sharedInputs.Count, own.Count);
            }

            Array.Clear(first);
            Array.Clear(second);
            Array.Clear(inFirst);
            Array.Clear(inSecond);
        }

        (_sharedValues, _sharedInputs, _ownValues, _ownInputs) = ([.. shared], [.. sharedInputs], [.. own], [.. ownInputs]);
    }

    /// <summary>Columns [<paramref name="j0"/>, n) of C = WB + b1ᵀ (lengths checked by the caller), split over the cores at whole pairs.</summary>
    public void Multiply(ReadOnlySpan<float> b, int n, Span<float> c, ReadOnlySpan<float> bias, bool relu, int j0 = 0)
    {
        fixed (float* pb0 = b, pc0 = c, pbias0 = bias)
        {
            var (pb, pc, pbias) = ((nint)pb0, (nint)pc0, bias.IsEmpty ? 0 : (nint)pbias0);
            var work = (2L * _sharedInputs.Length) + _ownInputs.Length;
            SparseParallel.For((_rows + 1) / 2, n, work * (n - j0), (p0, p1, c0, c1) => MultiplyRange(p0, p1, c0, c1, (float*)pb, n, (float*)pc, (float*)pbias),
                rectify: relu ? new SparseParallel.Rectifier(pc0, n, _rows, 2) : default, firstColumn: j0);
        }
    }

    private static void Spread(int r, float[] values, int[] cols, int[] rowPointers, float[] row, bool[] present)
    {
        for (var e = rowPointers[r]; e < rowPointers[r + 1]; e++)
        {
            if (values[e] != 0)
            {
                row[cols[e]] += values[e];
                present[cols[e]] = true;
            }
        }
    }

    /// <summary>The inputs in [k0, k1) that <paramref name="present"/> has and <paramref name="other"/> has not, with their values.</summary>
    private static void Own(float[] row, bool[] present, bool[] other, int k0, int k1, List<float> own, List<byte> inputs)
    {
        for (var j = k0; j < k1; j++)
        {
            if (present[j] && !other[j])
            {
                own.Add(row[j]);
                inputs.Add((byte)(j - k0));
            }
        }
    }

    /// <summary>Pairs [p0, p1) and columns [j0, j1) of C on the calling thread: tile of C by chunk of B, one kernel call per chunk.</summary>
    public void MultiplyRange(int p0, int p1, int j0, int j1, float* b, int n, float* c, float* bias)
    {
        fixed (float* sv = _sharedValues, ov = _ownValues)
        fixed (byte* si = _sharedInputs, oi = _ownInputs)
        fixed (int* sa = _sharedAt, oa = _ownAt, sa2 = _secondAt)
        {
            for (var t0 = j0; t0 < j1; t0 += RowStore.TileColumns)
            {
                var t1 = Math.Min(j1, t0 + RowStore.TileColumns);
                for (var k = 0; k < _chunks; k++)
                {
                    var chunk = new PairChunk(c, b + ((nint)k * ChunkRows * n), n, t0, t1, k, _chunks, _rows, bias, sv, si, ov, oi, sa, oa, sa2);
                    switch (SimdPaths.Current)
                    {
                        case SimdPath.Avx512:
                            PairKernels.Run<Vector512<float>, Simd512<float>>(in chunk, p0, p1);
                            break;
                        case SimdPath.Avx2:
                            PairKernels.Run<Vector256<float>, Simd256<float>>(in chunk, p0, p1);
                            break;
                        default:
                            PairKernels.Run<float, SimdScalar<float>>(in chunk, p0, p1);
                            break;
                    }
                }
            }
        }
    }
}

/// <summary>One chunk of B and the paired layout's arrays, for <see cref="PairKernels.Run{TV, TS}"/>.</summary>
internal readonly unsafe struct PairChunk(float* c, float* b, int n, int j0, int j1, int k, int chunks, int rows, float* bias,
    float* shared, byte* sharedInputs, float* own, byte* ownInputs, int* sharedAt, int* ownAt, int* secondAt)
{
    public readonly float* C = c;
    public readonly float* B = b;
    public readonly int N = n;
    public readonly int J0 = j0;
    public readonly int J1 = j1;
    public readonly int K = k;
    public readonly int Chunks = chunks;
    public readonly int Rows = rows;
    public readonly float* Bias = bias;
    public readonly float* Shared = shared;
    public readonly byte* SharedInputs = sharedInputs;
    public readonly float* Own = own;
    public readonly byte* OwnInputs = ownInputs;
    public readonly int* SharedAt = sharedAt;
    public readonly int* OwnAt = ownAt;
    public readonly int* SecondAt = secondAt;
}
