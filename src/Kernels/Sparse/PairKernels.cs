using System.Runtime.CompilerServices;

namespace WoodFisher.Kernels.Sparse;

/// <summary>One pair's entries in one chunk, and where its two rows of C are (<see cref="Second"/> null for a last row alone).</summary>
internal readonly unsafe struct Pair(float* first, float* second, bool accumulate, float firstBias, float secondBias,
    float* shared, byte* sharedInputs, int sharedCount, float* own1, byte* own1Inputs, int own1Count, float* own2, byte* own2Inputs, int own2Count)
{
    public readonly float* First = first;
    public readonly float* Second = second;
    public readonly bool Accumulate = accumulate;
    public readonly float FirstBias = firstBias;
    public readonly float SecondBias = secondBias;
    public readonly float* Shared = shared;
    public readonly byte* SharedInputs = sharedInputs;
    public readonly int SharedCount = sharedCount;
    public readonly float* Own1 = own1;
    public readonly byte* Own1Inputs = own1Inputs;
    public readonly int Own1Count = own1Count;
    public readonly float* Own2 = own2;
    public readonly byte* Own2Inputs = own2Inputs;
    public readonly int Own2Count = own2Count;
}

/// <summary>
/// The products of <see cref="PairedRows"/>: a pair's share of C = WB from one chunk of B, c[j] = s + Σ v·b[input·ldb + j]
/// for each of its rows, s = c[j] after the first chunk, else the row's bias.
/// </summary>
internal static unsafe class PairKernels
{
    /// <summary>Pairs [p0, p1) (rows 2p and 2p + 1) against one chunk of B: one call per chunk, so that the pairs' loop stays in the compiled kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Run<TV, TS>(in PairChunk ch, int p0, int p1)
        where TV : struct
        where TS : struct, ISimd<float, TV>
    {
        var (k, chunks, n) = (ch.K, ch.Chunks, ch.N);
        for (var pp = p0; pp < p1; pp++)
        {
            var q = (pp * chunks) + k;
            var (s0, s1) = (ch.SharedAt[q], ch.SharedAt[q + 1]);
            var (o0, o1, o2) = (ch.OwnAt[q], ch.SecondAt[q], ch.OwnAt[q + 1]);
            if (k > 0 && s0 == s1 && o0 == o2)
            {
                continue;
            }

            var (r, r2) = (2 * pp, (2 * pp) + 1 < ch.Rows ? (2 * pp) + 1 : -1);
            var pair = new Pair(ch.C + ((nint)r * n), r2 >= 0 ? ch.C + ((nint)r2 * n) : null, k > 0,
                ch.Bias == null ? 0f : ch.Bias[r], ch.Bias == null || r2 < 0 ? 0f : ch.Bias[r2],
                ch.Shared + (2 * s0), ch.SharedInputs + s0, s1 - s0, ch.Own + o0, ch.OwnInputs + o0, o1 - o0, ch.Own + o1, ch.OwnInputs + o1, o2 - o1);
            Columns<TV, TS>(pair, ch.B, n, ch.J0, ch.J1);
        }
    }

    /// <summary>Columns [j0, j1) of the pair's rows: tiles of four registers, then of two, then single registers, then single columns.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Columns<TV, TS>(in Pair p, float* b, nint ldb, int j0, int j1)
        where TV : struct
        where TS : struct, ISimd<float, TV>
    {
        var w = TS.Count;
        var j = j0;
        for (; j + (4 * w) <= j1; j += 4 * w)
        {
            Tile<TV, TS>(p, b + j, ldb, j);
        }

        for (; j + (2 * w) <= j1; j += 2 * w)
        {
            NarrowTile<TV, TS>(p, b + j, ldb, j);
        }

        for (; j + w <= j1; j += w)
        {
            var a = StartFirst<TV, TS>(p, p.First + j);
            var c = StartSecond<TV, TS>(p, p.Second + j);
            var bj = b + j;
            for (var e = 0; e < p.SharedCount; e++)
            {
                var x = TS.Load(bj + (p.SharedInputs[e] * ldb));
                a = TS.Fma(TS.Splat(p.Shared[2 * e]), x, a);
                c = TS.Fma(TS.Splat(p.Shared[(2 * e) + 1]), x, c);
            }

            for (var e = 0; e < p.Own1Count; e++)
            {
                a = TS.Fma(TS.Splat(p.Own1[e]), TS.Load(bj + (p.Own1Inputs[e] * ldb)), a);
            }

            for (var e = 0; e < p.Own2Count; e++)
            {
                c = TS.Fma(TS.Splat(p.Own2[e]), TS.Load(bj + (p.Own2Inputs[e] * ldb)), c);
            }

            TS.Store(a, p.First + j);
            if (p.Second != null)
            {
                TS.Store(c, p.Second + j);
            }
        }

        for (; j < j1; j++)
        {
            var s1 = p.Accumulate ? p.First[j] : p.FirstBias;
            var s2 = p.Second == null ? 0f : p.Accumulate ? p.Second[j] : p.SecondBias;
            for (var e = 0; e < p.SharedCount; e++)
            {
                var x = b[(p.SharedInputs[e] * ldb) + j];
                s1 = MathF.FusedMultiplyAdd(p.Shared[2 * e], x, s1);
                s2 = MathF.FusedMultiplyAdd(p.Shared[(2 * e) + 1], x, s2);
            }

            for (var e = 0; e < p.Own1Count; e++)
            {
                s1 = MathF.FusedMultiplyAdd(p.Own1[e], b[(p.Own1Inputs[e] * ldb) + j], s1);
            }

            for (var e = 0; e < p.Own2Count; e++)
            {
                s2 = MathF.FusedMultiplyAdd(p.Own2[e], b[(p.Own2Inputs[e] * ldb) + j], s2);
            }

            p.First[j] = s1;
            if (p.Second != null)
            {
                p.Second[j] = s2;
            }
        }
    }

    /// <summary>
    /// Four registers of both rows. A shared input's four loads of B serve eight FMAs. With 512-bit registers consecutive
    /// shared inputs alternate between two sets of accumulators (32 registers hold them), and each row's own inputs
    /// alternate between its set and a spare one, so that no FMA chain takes more than one FMA per four issued.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile<TV, TS>(in Pair p, float* bj, nint ldb, int j)
        where TV : struct
        where TS : struct, ISimd<float, TV>
    {
        var w = TS.Count;
        var c1 = p.First + j;
        var c2 = p.Second + j;
        var (a0, a1, a2, a3) = (StartFirst<TV, TS>(p, c1), StartFirst<TV, TS>(p, c1 + w), StartFirst<TV, TS>(p, c1 + (2 * w)), StartFirst<TV, TS>(p, c1 + (3 * w)));
        var (b0, b1, b2, b3) = (StartSecond<TV, TS>(p, c2), StartSecond<TV, TS>(p, c2 + w), StartSecond<TV, TS>(p, c2 + (2 * w)), StartSecond<TV, TS>(p, c2 + (3 * w)));

        var sv = p.Shared;
        var si = p.SharedInputs;
        var count = p.SharedCount;
        var e = 0;
        if (TS.Count >= 16)
        {
            TV d0 = TS.Zero, d1 = TS.Zero, d2 = TS.Zero, d3 = TS.Zero, f0 = TS.Zero, f1 = TS.Zero, f2 = TS.Zero, f3 = TS.Zero;
            for (; e + 2 <= count; e += 2)
            {
                // Both inputs in one 16-bit load: the loads bound this loop.
                var inputs2 = Unsafe.ReadUnaligned<ushort>(si + e);
                Shared<TV, TS>(sv + (2 * e), bj + ((nint)(inputs2 & 0xFF) * ldb), w, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3);
                Shared<TV, TS>(sv + (2 * e) + 2, bj + ((nint)(inputs2 >> 8) * ldb), w, ref d0, ref d1, ref d2, ref d3, ref f0, ref f1, ref f2, ref f3);
            }

            (a0, a1, a2, a3) = (TS.Add(a0, d0), TS.Add(a1, d1), TS.Add(a2, d2), TS.Add(a3, d3));
            (b0, b1, b2, b3) = (TS.Add(b0, f0), TS.Add(b1, f1), TS.Add(b2, f2), TS.Add(b3, f3));
        }

        for (; e < count; e++)
        {
            Shared<TV, TS>(sv + (2 * e), bj + (si[e] * ldb), w, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3);
        }

        Own<TV, TS>(p.Own1, p.Own1Inputs, p.Own1Count, bj, ldb, w, ref a0, ref a1, ref a2, ref a3);
        Own<TV, TS>(p.Own2, p.Own2Inputs, p.Own2Count, bj, ldb, w, ref b0, ref b1, ref b2, ref b3);
        TS.Store(a0, c1);
        TS.Store(a1, c1 + w);
        TS.Store(a2, c1 + (2 * w));
        TS.Store(a3, c1 + (3 * w));
        if (p.Second != null)
        {
            TS.Store(b0, c2);
            TS.Store(b1, c2 + w);
            TS.Store(b2, c2 + (2 * w));
            TS.Store(b3, c2 + (3 * w));
        }
    }

    /// <summary>
    /// Two registers of both rows, for the columns past the last four-register tile (a batch of 96 is one tile and one of
    /// these): a shared input's two loads of B serve four FMAs, an own input's two serve two. Each weight's broadcast and
    /// index cost what they cost in the four-register tile for half the FMAs, so these columns take about 1.6 times as
    /// long per column as a wide tile's (300 × 784 × 32 at 2:4: 108 µs on one core, the dense narrow tile 104 µs), half
    /// the time of single-register passes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void NarrowTile<TV, TS>(in Pair p, float* bj, nint ldb, int j)
        where TV : struct
        where TS : struct, ISimd<float, TV>
    {
        var w = TS.Count;
        var c1 = p.First + j;
        var c2 = p.Second + j;
        var (a0, a1) = (StartFirst<TV, TS>(p, c1), StartFirst<TV, TS>(p, c1 + w));
        var (b0, b1) = (StartSecond<TV, TS>(p, c2), StartSecond<TV, TS>(p, c2 + w));
        TV d0 = TS.Zero, d1 = TS.Zero, f0 = TS.Zero, f1 = TS.Zero;
        var sv = p.Shared;
        var si = p.SharedInputs;
        var count = p.SharedCount;
        var e = 0;
        for (; e + 2 <= count; e += 2)
        {
            var inputs2 = Unsafe.ReadUnaligned<ushort>(si + e);
            var x = bj + ((nint)(inputs2 & 0xFF) * ldb);
            var (x0, x1) = (TS.Load(x), TS.Load(x + w));
            var s = TS.Splat(sv[2 * e]);
            (a0, a1) = (TS.Fma(s, x0, a0), TS.Fma(s, x1, a1));
            s = TS.Splat(sv[(2 * e) + 1]);
            (b0, b1) = (TS.Fma(s, x0, b0), TS.Fma(s, x1, b1));
            x = bj + ((nint)(inputs2 >> 8) * ldb);
            (x0, x1) = (TS.Load(x), TS.Load(x + w));
            s = TS.Splat(sv[(2 * e) + 2]);
            (d0, d1) = (TS.Fma(s, x0, d0), TS.Fma(s, x1, d1));
            s = TS.Splat(sv[(2 * e) + 3]);
            (f0, f1) = (TS.Fma(s, x0, f0), TS.Fma(s, x1, f1));
        }

        if (e < count)
        {
            var x = bj + ((nint)si[e] * ldb);
            var (x0, x1) = (TS.Load(x), TS.Load(x + w));
            var s = TS.Splat(sv[2 * e]);
            (a0, a1) = (TS.Fma(s, x0, a0), TS.Fma(s, x1, a1));
            s = TS.Splat(sv[(2 * e) + 1]);
            (b0, b1) = (TS.Fma(s, x0, b0), TS.Fma(s, x1, b1));
        }

        Own2<TV, TS>(p.Own1, p.Own1Inputs, p.Own1Count, bj, ldb, w, ref a0, ref a1, ref d0, ref d1);
        Own2<TV, TS>(p.Own2, p.Own2Inputs, p.Own2Count, bj, ldb, w, ref b0, ref b1, ref f0, ref f1);
        TS.Store(TS.Add(a0, d0), c1);
        TS.Store(TS.Add(a1, d1), c1 + w);
        if (p.Second != null)
        {
            TS.Store(TS.Add(b0, f0), c2);
            TS.Store(TS.Add(b1, f1), c2 + w);
        }
    }

    /// <summary>One row's own inputs into two registers, alternating between its accumulators and the spare pair <paramref name="d0"/>, <paramref name="d1"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Own2<TV, TS>(float* v, byte* inputs, int count, float* bj, nint ldb, int w, ref TV a0, ref TV a1, ref TV d0, ref TV d1)
        where TV : struct
        where TS : struct, ISimd<float, TV>
    {
        var e = 0;
        for (; e + 2 <= count; e += 2)
        {
            var inputs2 = Unsafe.ReadUnaligned<ushort>(inputs + e);
            var x = bj + ((nint)(inputs2 & 0xFF) * ldb);
            var s = TS.Splat(v[e]);
            (a0, a1) = (TS.Fma(s, TS.Load(x), a0), TS.Fma(s, TS.Load(x + w), a1));
            x = bj + ((nint)(inputs2 >> 8) * ldb);
            s = TS.Splat(v[e + 1]);
            (d0, d1) = (TS.Fma(s, TS.Load(x), d0), TS.Fma(s, TS.Load(x + w), d1));
        }

        if (e < count)
        {
            var x = bj + ((nint)inputs[e] * ldb);
            var s = TS.Splat(v[e]);
            (a0, a1) = (TS.Fma(s, TS.Load(x), a0), TS.Fma(s, TS.Load(x + w), a1));
        }
    }

    /// <summary>The first row's register at <paramref name="c"/> as a chunk starts it: C's value after the first chunk, else the bias.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV StartFirst<TV, TS>(in Pair p, float* c)
        where TV : struct
        where TS : struct, ISimd<float, TV>
        => p.Accumulate ? TS.Load(c) : TS.Splat(p.FirstBias);

    /// <summary>As <see cref="StartFirst{TV, TS}"/> for the second row (zero for a last row alone, whose sums are not stored).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV StartSecond<TV, TS>(in Pair p, float* c)
        where TV : struct
        where TS : struct, ISimd<float, TV>
        => p.Second == null ? TS.Zero : p.Accumulate ? TS.Load(c) : TS.Splat(p.SecondBias);

    /// <summary>Both rows' registers += their values (<paramref name="v"/>[0], [1]) times the four registers of B's row at <paramref name="row"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Shared<TV, TS>(float* v, float* row, int w, ref TV a0, ref TV a1, ref TV a2, ref TV a3, ref TV b0, ref TV b1, ref TV b2, ref TV b3)
        where TV : struct
        where TS : struct, ISimd<float, TV>
    {
        var x0 = TS.Load(row);
        var x1 = TS.Load(row + w);
        var x2 = TS.Load(row + (2 * w));
        var x3 = TS.Load(row + (3 * w));
        var s = TS.Splat(v[0]);
        a0 = TS.Fma(s, x0, a0);
        a1 = TS.Fma(s, x1, a1);
        a2 = TS.Fma(s, x2, a2);
        a3 = TS.Fma(s, x3, a3);
        s = TS.Splat(v[1]);
        b0 = TS.Fma(s, x0, b0);
        b1 = TS.Fma(s, x1, b1);
        b2 = TS.Fma(s, x2, b2);
        b3 = TS.Fma(s, x3, b3);
    }

    /// <summary>One row's own inputs, four indices per 32-bit load, consecutive inputs alternating between its accumulators and a spare set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Own<TV, TS>(float* v, byte* inputs, int count, float* bj, nint ldb, int w, ref TV a0, ref TV a1, ref TV a2, ref TV a3)
        where TV : struct
        where TS : struct, ISimd<float, TV>
    {
        TV d0 = TS.Zero, d1 = TS.Zero, d2 = TS.Zero, d3 = TS.Zero;
        var e = 0;
        for (; e + 4 <= count; e += 4)
        {
            var inputs4 = Unsafe.ReadUnaligned<uint>(inputs + e);
            SparseKernels.Axpy4<TV, TS>(TS.Splat(v[e]), bj + ((nint)(inputs4 & 0xFF) * ldb), w, ref a0, ref a1, ref a2, ref a3);
            SparseKernels.Axpy4<TV, TS>(TS.Splat(v[e + 1]), bj + ((nint)((inputs4 >> 8) & 0xFF) * ldb), w, ref d0, ref d1, ref d2, ref d3);
            SparseKernels.Axpy4<TV, TS>(TS.Splat(v[e + 2]), bj + ((nint)((inputs4 >> 16) & 0xFF) * ldb), w, ref a0, ref a1, ref a2, ref a3);
            SparseKernels.Axpy4<TV, TS>(TS.Splat(v[e + 3]), bj + ((nint)(inputs4 >> 24) * ldb), w, ref d0, ref d1, ref d2, ref d3);
        }

        for (; e < count; e++)
        {
            SparseKernels.Axpy4<TV, TS>(TS.Splat(v[e]), bj + (inputs[e] * ldb), w, ref a0, ref a1, ref a2, ref a3);
        }

        (a0, a1, a2, a3) = (TS.Add(a0, d0), TS.Add(a1, d1), TS.Add(a2, d2), TS.Add(a3, d3));
    }
}
