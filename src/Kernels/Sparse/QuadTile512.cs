using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// The product of <see cref="QuadRows"/>: one quad's four rows of C over 32 or 64 columns (two or four 512-bit registers
/// each, the type argument of <see cref="Run{TW}"/>) from one chunk of B, c[j] = s + Σ v·b[input·ldb + j], s = c[j] after
/// the first chunk, else the row's bias. Written on <see cref="Vector512"/> itself rather than on the generic SIMD
/// wrappers the other kernels use: the sums stay in registers only if all fifteen lists inline into one method, and the
/// wrappers' calls (a dozen inlinees per list) with their temporaries exceed what the JIT inlines into a method; a list
/// left as a call spills every sum to the stack, and the product runs about four times slower.
/// </summary>
internal static unsafe class QuadTile512
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Run<TW>(in Quad p, float* bj, nint ldb, int j)
        where TW : struct, ITileWidth
    {
        var four = TW.Registers == 4;
        Start(p, p.C0, p.Bias0, j, four, out var a0, out var a1, out var a2, out var a3);
        Start(p, p.C1, p.Bias1, j, four, out var b0, out var b1, out var b2, out var b3);
        Start(p, p.C2, p.Bias2, j, four, out var c0, out var c1, out var c2, out var c3);
        Start(p, p.C3, p.Bias3, j, four, out var d0, out var d1, out var d2, out var d3);
        Vector512<float> e0 = default, e1 = default, e2 = default, e3 = default;
        One(in p, 0, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref e0, ref e1, ref e2, ref e3);
        One(in p, 1, bj, ldb, four, ref b0, ref b1, ref b2, ref b3, ref e0, ref e1, ref e2, ref e3);
        Many(in p, 3, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
        One(in p, 3, bj, ldb, four, ref c0, ref c1, ref c2, ref c3, ref e0, ref e1, ref e2, ref e3);
        Many(in p, 5, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
        Many(in p, 6, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
        Many(in p, 7, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
        One(in p, 7, bj, ldb, four, ref d0, ref d1, ref d2, ref d3, ref e0, ref e1, ref e2, ref e3);
        Many(in p, 9, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
        Many(in p, 10, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
        Many(in p, 11, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
        Many(in p, 12, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
        Many(in p, 13, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
        Many(in p, 14, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
        Many(in p, 15, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
        Store(p.C0, j, four, a0, a1, a2, a3);
        Store(p.C1, j, four, b0, b1, b2, b3);
        Store(p.C2, j, four, c0, c1, c2, c3);
        Store(p.C3, j, four, d0, d1, d2, d3);
    }

    /// <summary>A one-row list: odd inputs into the spare sums e, so that consecutive inputs do not wait on each other's FMAs; e is folded in and cleared at the end.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void One(in Quad p, int list, float* bj, nint ldb, bool four, ref Vector512<float> r0, ref Vector512<float> r1, ref Vector512<float> r2, ref Vector512<float> r3,
        ref Vector512<float> e0, ref Vector512<float> e1, ref Vector512<float> e2, ref Vector512<float> e3)
    {
        var i = p.InputAt[list];
        var end = p.InputAt[list + 1];
        if (i == end)
            return;
        var v = p.Values + p.ValueAt[list];
        for (; i + 2 <= end; i += 2, v += 2)
        {
            Axpy(v[0], bj + ((nint)p.Inputs[i] * ldb), four, ref r0, ref r1, ref r2, ref r3);
            Axpy(v[1], bj + ((nint)p.Inputs[i + 1] * ldb), four, ref e0, ref e1, ref e2, ref e3);
        }

        if (i < end)
            Axpy(v[0], bj + ((nint)p.Inputs[i] * ldb), four, ref r0, ref r1, ref r2, ref r3);
        r0 += e0;
        r1 += e1;
        r2 += e2;
        r3 += e3;
        (e0, e1, e2, e3) = (default, default, default, default);
    }

    /// <summary>
    /// The list of the rows in <paramref name="mask"/> (bit r: row r), two or more: B's row loaded once, then a broadcast
    /// and two or four FMAs per row of the subset. Every call passes a constant mask, so that inlined each call keeps only
    /// its own rows' FMAs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Many(in Quad p, int mask, float* bj, nint ldb, bool four,
        ref Vector512<float> a0, ref Vector512<float> a1, ref Vector512<float> a2, ref Vector512<float> a3, ref Vector512<float> b0, ref Vector512<float> b1, ref Vector512<float> b2, ref Vector512<float> b3,
        ref Vector512<float> c0, ref Vector512<float> c1, ref Vector512<float> c2, ref Vector512<float> c3, ref Vector512<float> d0, ref Vector512<float> d1, ref Vector512<float> d2, ref Vector512<float> d3)
    {
        var end = p.InputAt[mask];
        var v = p.Values + p.ValueAt[mask - 1];
        for (var i = p.InputAt[mask - 1]; i < end; i++)
        {
            var x = bj + ((nint)p.Inputs[i] * ldb);
            var x0 = Vector512.Load(x);
            var x1 = Vector512.Load(x + 16);
            var x2 = four ? Vector512.Load(x + 32) : default;
            var x3 = four ? Vector512.Load(x + 48) : default;
            if ((mask & 1) != 0)
                Fma(*v++, x0, x1, x2, x3, four, ref a0, ref a1, ref a2, ref a3);
            if ((mask & 2) != 0)
                Fma(*v++, x0, x1, x2, x3, four, ref b0, ref b1, ref b2, ref b3);
            if ((mask & 4) != 0)
                Fma(*v++, x0, x1, x2, x3, four, ref c0, ref c1, ref c2, ref c3);
            if ((mask & 8) != 0)
                Fma(*v++, x0, x1, x2, x3, four, ref d0, ref d1, ref d2, ref d3);
        }
    }

    /// <summary>r += value · (B's row at <paramref name="x"/>), two or four registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy(float value, float* x, bool four, ref Vector512<float> r0, ref Vector512<float> r1, ref Vector512<float> r2, ref Vector512<float> r3)
    {
        var s = Vector512.Create(value);
        r0 = Vector512.FusedMultiplyAdd(s, Vector512.Load(x), r0);
        r1 = Vector512.FusedMultiplyAdd(s, Vector512.Load(x + 16), r1);
        if (four)
        {
            r2 = Vector512.FusedMultiplyAdd(s, Vector512.Load(x + 32), r2);
            r3 = Vector512.FusedMultiplyAdd(s, Vector512.Load(x + 48), r3);
        }
    }

    /// <summary>r += value · x, two or four registers of B's row already loaded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Fma(float value, Vector512<float> x0, Vector512<float> x1, Vector512<float> x2, Vector512<float> x3, bool four, ref Vector512<float> r0, ref Vector512<float> r1, ref Vector512<float> r2, ref Vector512<float> r3)
    {
        var s = Vector512.Create(value);
        r0 = Vector512.FusedMultiplyAdd(s, x0, r0);
        r1 = Vector512.FusedMultiplyAdd(s, x1, r1);
        if (four)
        {
            r2 = Vector512.FusedMultiplyAdd(s, x2, r2);
            r3 = Vector512.FusedMultiplyAdd(s, x3, r3);
        }
    }

    /// <summary>A row's sums as a chunk starts them: C's values after the first chunk, else the bias (zero for a row past the last).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Start(in Quad p, float* c, float bias, int j, bool four, out Vector512<float> r0, out Vector512<float> r1, out Vector512<float> r2, out Vector512<float> r3)
    {
        (r0, r1, r2, r3) = (default, default, default, default);
        if (c == null)
            return;
        c += j;
        r0 = p.Accumulate ? Vector512.Load(c) : Vector512.Create(bias);
        r1 = p.Accumulate ? Vector512.Load(c + 16) : r0;
        if (four)
        {
            r2 = p.Accumulate ? Vector512.Load(c + 32) : r0;
            r3 = p.Accumulate ? Vector512.Load(c + 48) : r0;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, int j, bool four, Vector512<float> r0, Vector512<float> r1, Vector512<float> r2, Vector512<float> r3)
    {
        if (c == null)
            return;
        c += j;
        r0.Store(c);
        r1.Store(c + 16);
        if (four)
        {
            r2.Store(c + 32);
            r3.Store(c + 48);
        }
    }
}
