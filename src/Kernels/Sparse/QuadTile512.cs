using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// The product of <see cref="QuadRows"/>: one quad's four rows of C over 32 or 64 columns (two or four 512-bit registers
/// each, the type argument of <see cref="Run{TW}"/>) from one chunk of B, c[j] = s + Σ v·b[input·ldb + j], s = c[j] after the first chunk,
/// else the row's bias. Written on <see cref="Vector512"/> itself rather than on the generic SIMD wrappers the other
/// kernels use: the sums stay in registers only if all fifteen lists inline into one method, and the wrappers' calls (a
/// dozen inlinees per list) with their temporaries exceed what the JIT inlines into a method; a list left as a call
/// spills every sum to the stack, and the product runs about four times slower.
/// </summary>
internal static unsafe class QuadTile512
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Run<TW>(in Quad p, float* bj, nint ldb, int j)
        where TW : struct, ITileWidth
    {
        var four = TW.Registers == 4;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        if (p.C0 != null)
        {
            var at = p.C0 + j;
            a0 = p.Accumulate ? Vector512.Load(at) : Vector512.Create(p.Bias0);
            a1 = p.Accumulate ? Vector512.Load(at + 16) : a0;
            if (four)
            {
                a2 = p.Accumulate ? Vector512.Load(at + 32) : a0;
                a3 = p.Accumulate ? Vector512.Load(at + 48) : a0;
            }
        }
        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
        if (p.C1 != null)
        {
            var at = p.C1 + j;
            b0 = p.Accumulate ? Vector512.Load(at) : Vector512.Create(p.Bias1);
            b1 = p.Accumulate ? Vector512.Load(at + 16) : b0;
            if (four)
            {
                b2 = p.Accumulate ? Vector512.Load(at + 32) : b0;
                b3 = p.Accumulate ? Vector512.Load(at + 48) : b0;
            }
        }
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        if (p.C2 != null)
        {
            var at = p.C2 + j;
            c0 = p.Accumulate ? Vector512.Load(at) : Vector512.Create(p.Bias2);
            c1 = p.Accumulate ? Vector512.Load(at + 16) : c0;
            if (four)
            {
                c2 = p.Accumulate ? Vector512.Load(at + 32) : c0;
                c3 = p.Accumulate ? Vector512.Load(at + 48) : c0;
            }
        }
        Vector512<float> d0 = default, d1 = default, d2 = default, d3 = default;
        if (p.C3 != null)
        {
            var at = p.C3 + j;
            d0 = p.Accumulate ? Vector512.Load(at) : Vector512.Create(p.Bias3);
            d1 = p.Accumulate ? Vector512.Load(at + 16) : d0;
            if (four)
            {
                d2 = p.Accumulate ? Vector512.Load(at + 32) : d0;
                d3 = p.Accumulate ? Vector512.Load(at + 48) : d0;
            }
        }
        Vector512<float> e0 = default, e1 = default, e2 = default, e3 = default;
        One(in p, 0, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref e0, ref e1, ref e2, ref e3);
        One(in p, 1, bj, ldb, four, ref b0, ref b1, ref b2, ref b3, ref e0, ref e1, ref e2, ref e3);
        Many<Rows3>(in p, 2, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
        One(in p, 3, bj, ldb, four, ref c0, ref c1, ref c2, ref c3, ref e0, ref e1, ref e2, ref e3);
        Many<Rows5>(in p, 4, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
        Many<Rows6>(in p, 5, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
        Many<Rows7>(in p, 6, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
        One(in p, 7, bj, ldb, four, ref d0, ref d1, ref d2, ref d3, ref e0, ref e1, ref e2, ref e3);
        Many<Rows9>(in p, 8, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
        Many<Rows10>(in p, 9, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
        Many<Rows11>(in p, 10, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
        Many<Rows12>(in p, 11, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
        Many<Rows13>(in p, 12, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
        Many<Rows14>(in p, 13, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
        Many<Rows15>(in p, 14, bj, ldb, four, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref c0, ref c1, ref c2, ref c3, ref d0, ref d1, ref d2, ref d3);
        if (p.C0 != null)
        {
            var at = p.C0 + j;
            a0.Store(at);
            a1.Store(at + 16);
            if (four)
            {
                a2.Store(at + 32);
                a3.Store(at + 48);
            }
        }
        if (p.C1 != null)
        {
            var at = p.C1 + j;
            b0.Store(at);
            b1.Store(at + 16);
            if (four)
            {
                b2.Store(at + 32);
                b3.Store(at + 48);
            }
        }
        if (p.C2 != null)
        {
            var at = p.C2 + j;
            c0.Store(at);
            c1.Store(at + 16);
            if (four)
            {
                c2.Store(at + 32);
                c3.Store(at + 48);
            }
        }
        if (p.C3 != null)
        {
            var at = p.C3 + j;
            d0.Store(at);
            d1.Store(at + 16);
            if (four)
            {
                d2.Store(at + 32);
                d3.Store(at + 48);
            }
        }
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
        var inputs = p.Inputs;
        for (; i + 2 <= end; i += 2, v += 2)
        {
            var x = bj + ((nint)inputs[i] * ldb);
            var s = Vector512.Create(v[0]);
            r0 = Vector512.FusedMultiplyAdd(s, Vector512.Load(x), r0);
            r1 = Vector512.FusedMultiplyAdd(s, Vector512.Load(x + 16), r1);
            if (four)
            {
                r2 = Vector512.FusedMultiplyAdd(s, Vector512.Load(x + 32), r2);
                r3 = Vector512.FusedMultiplyAdd(s, Vector512.Load(x + 48), r3);
            }
            x = bj + ((nint)inputs[i + 1] * ldb);
            s = Vector512.Create(v[1]);
            e0 = Vector512.FusedMultiplyAdd(s, Vector512.Load(x), e0);
            e1 = Vector512.FusedMultiplyAdd(s, Vector512.Load(x + 16), e1);
            if (four)
            {
                e2 = Vector512.FusedMultiplyAdd(s, Vector512.Load(x + 32), e2);
                e3 = Vector512.FusedMultiplyAdd(s, Vector512.Load(x + 48), e3);
            }
        }

        if (i < end)
        {
            var x = bj + ((nint)inputs[i] * ldb);
            var s = Vector512.Create(v[0]);
            r0 = Vector512.FusedMultiplyAdd(s, Vector512.Load(x), r0);
            r1 = Vector512.FusedMultiplyAdd(s, Vector512.Load(x + 16), r1);
            if (four)
            {
                r2 = Vector512.FusedMultiplyAdd(s, Vector512.Load(x + 32), r2);
                r3 = Vector512.FusedMultiplyAdd(s, Vector512.Load(x + 48), r3);
            }
        }

        r0 += e0;
        r1 += e1;
        e0 = default;
        e1 = default;
        if (four)
        {
            r2 += e2;
            r3 += e3;
            e2 = default;
            e3 = default;
        }
    }

    /// <summary>A list of two rows or more: B's row loaded once, then a broadcast and two or four FMAs per row of the subset.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Many<TM>(in Quad p, int list, float* bj, nint ldb, bool four,
        ref Vector512<float> a0, ref Vector512<float> a1, ref Vector512<float> a2, ref Vector512<float> a3,
        ref Vector512<float> b0, ref Vector512<float> b1, ref Vector512<float> b2, ref Vector512<float> b3,
        ref Vector512<float> c0, ref Vector512<float> c1, ref Vector512<float> c2, ref Vector512<float> c3,
        ref Vector512<float> d0, ref Vector512<float> d1, ref Vector512<float> d2, ref Vector512<float> d3)
        where TM : struct, IRowSubset
    {
        var end = p.InputAt[list + 1];
        var v = p.Values + p.ValueAt[list];
        var inputs = p.Inputs;
        for (var i = p.InputAt[list]; i < end; i++)
        {
            var x = bj + ((nint)inputs[i] * ldb);
            var x0 = Vector512.Load(x);
            var x1 = Vector512.Load(x + 16);
            Vector512<float> x2 = default, x3 = default;
            if (four)
            {
                x2 = Vector512.Load(x + 32);
                x3 = Vector512.Load(x + 48);
            }

            Vector512<float> s;
            if ((TM.Mask & 1) != 0)
            {
                s = Vector512.Create(*v++);
                a0 = Vector512.FusedMultiplyAdd(s, x0, a0);
                a1 = Vector512.FusedMultiplyAdd(s, x1, a1);
                if (four)
                {
                    a2 = Vector512.FusedMultiplyAdd(s, x2, a2);
                    a3 = Vector512.FusedMultiplyAdd(s, x3, a3);
                }
            }

            if ((TM.Mask & 2) != 0)
            {
                s = Vector512.Create(*v++);
                b0 = Vector512.FusedMultiplyAdd(s, x0, b0);
                b1 = Vector512.FusedMultiplyAdd(s, x1, b1);
                if (four)
                {
                    b2 = Vector512.FusedMultiplyAdd(s, x2, b2);
                    b3 = Vector512.FusedMultiplyAdd(s, x3, b3);
                }
            }

            if ((TM.Mask & 4) != 0)
            {
                s = Vector512.Create(*v++);
                c0 = Vector512.FusedMultiplyAdd(s, x0, c0);
                c1 = Vector512.FusedMultiplyAdd(s, x1, c1);
                if (four)
                {
                    c2 = Vector512.FusedMultiplyAdd(s, x2, c2);
                    c3 = Vector512.FusedMultiplyAdd(s, x3, c3);
                }
            }

            if ((TM.Mask & 8) != 0)
            {
                s = Vector512.Create(*v++);
                d0 = Vector512.FusedMultiplyAdd(s, x0, d0);
                d1 = Vector512.FusedMultiplyAdd(s, x1, d1);
                if (four)
                {
                    d2 = Vector512.FusedMultiplyAdd(s, x2, d2);
                    d3 = Vector512.FusedMultiplyAdd(s, x3, d3);
                }
            }
        }
    }
}
