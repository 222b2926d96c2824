using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace WoodFisher.Kernels.Cpu;

/// <summary>
/// The Gram update of the float32 Dense strategy: C += XᵀX (C float64, lower triangle) for the columns [off, off + c)
/// of n rows X, with float32 products summed in float32 over at most <see cref="KC"/> rows and those partial sums
/// added into C in float64. Packed Goto/BLIS loops over a 6 × 2W register tile (W = the float32 SIMD width).
/// </summary>
/// <remarks>
/// Error: each entry is within γ_KC·Σ_r |x_ri x_rj| of the float64 Gram of the float32-rounded rows
/// (γ_k = k·u/(1 − k·u), u = 2⁻²⁴; γ_256 ≈ 1.5·10⁻⁵ worst case, about √KC·u = 10⁻⁶ in practice), whatever n is:
/// the float64 sums keep the panels' rounding from growing with the number of rows.
/// </remarks>
internal static class MixedSyrk
{
    /// <summary>Rows summed in float32 before a float64 addition.</summary>
    internal const int KC = 256;

    private const int MR = 6;

    /// <summary>Register-tile width 2W on the path taken at run time.</summary>
    internal static int NR => Vector512.IsHardwareAccelerated ? 32 : 16;

    /// <summary>
    /// C[i, j] += Σ_r X[r, off + i]·X[r, off + j] over rows r &lt; n (row stride ld), for the register tiles of column
    /// range [j0, j1) that touch the lower triangle (i ≥ j; entries above the diagonal inside such tiles are written too).
    /// C is c × c row-major at gram[gOff].
    /// </summary>
    public static void Accumulate<TSrc>(PinnedRows<TSrc> x, int n, int ld, int off, int c, double[] gram, long gOff, int j0, int j1)
        where TSrc : unmanaged, IFloatingPointIeee754<TSrc>
    {
        if (Vector512.IsHardwareAccelerated)
        {
            Run<TSrc, Lanes512, Vector512<float>>(x, n, ld, off, c, gram, gOff, j0, j1);
        }
        else
        {
            // Without AVX2 the 256-bit operations run as pairs of 128-bit ones.
            Run<TSrc, Lanes256, Vector256<float>>(x, n, ld, off, c, gram, gOff, j0, j1);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run<TSrc, TL, TV>(PinnedRows<TSrc> x, int n, int ld, int off, int c, double[] gram, long gOff, int j0, int j1)
        where TSrc : unmanaged, IFloatingPointIeee754<TSrc>
        where TL : struct, ILanes<TV>
        where TV : struct
    {
        var nr = 2 * TL.Count;
        var iPanels = (c + MR - 1) / MR;
        var jPanels = (j1 - j0 + nr - 1) / nr;
        var kcMax = Math.Min(KC, n);
        var pool = ArrayPool<float>.Shared;
        var ap = pool.Rent(iPanels * MR * kcMax);
        var bp = pool.Rent(jPanels * nr * kcMax);
        var tile = pool.Rent(MR * nr);
        var row = pool.Rent((iPanels * MR) + nr + (jPanels * nr));
        try
        {
            var rows = x.Span;
            for (var p0 = 0; p0 < n; p0 += KC)
            {
                var kc = Math.Min(KC, n - p0);
                Pack(rows, p0, kc, ld, off, 0, c, MR, ap, row);
                Pack(rows, p0, kc, ld, off, j0, j1, nr, bp, row);
                for (var jp = 0; jp < jPanels; jp++)
                {
                    var jt = j0 + (jp * nr);
                    var cols = Math.Min(nr, j1 - jt);
                    ref var b = ref bp[jp * nr * kc];

                    // Tiles wholly above the diagonal (every row i < jt) are skipped.
                    for (var ip = jt / MR; ip < iPanels; ip++)
                    {
                        var it = ip * MR;
                        Kernel<TL, TV>(ref ap[ip * MR * kc], ref b, kc, tile);
                        AddTile(tile, nr, Math.Min(MR, c - it), cols, gram, gOff + ((long)it * c) + jt, c);
                    }
                }
            }
        }
        finally
        {
            pool.Return(ap);
            pool.Return(bp);
            pool.Return(tile);
            pool.Return(row);
        }
    }

    /// <summary>
    /// Packs columns [from, to) of kc rows into panels of w columns, p-major inside a panel, zero-padded: each source row
    /// is converted once into <paramref name="row"/> and dealt out to the panels.
    /// </summary>
    private static void Pack<TSrc>(ReadOnlySpan<TSrc> rows, int p0, int kc, int ld, int off, int from, int to, int w, float[] dst, float[] row)
        where TSrc : unmanaged, IFloatingPointIeee754<TSrc>
    {
        var n = to - from;
        var panels = (n + w - 1) / w;
        var r = row.AsSpan(0, panels * w);
        r[n..].Clear();
        for (var p = 0; p < kc; p++)
        {
            var src = rows.Slice((int)(((long)(p0 + p) * ld) + off + from), n);
            if (typeof(TSrc) == typeof(float))
            {
                MemoryMarshal.Cast<TSrc, float>(src).CopyTo(r);
            }
            else
            {
                System.Numerics.Tensors.TensorPrimitives.ConvertTruncating<TSrc, float>(src, r);
            }

            ref var d = ref dst[p * w];
            ref var s = ref r[0];
            var step = w * kc;
            for (var pn = 0; pn < panels; pn++)
            {
                Unsafe.CopyBlockUnaligned(ref Unsafe.As<float, byte>(ref Unsafe.Add(ref d, pn * step)), ref Unsafe.As<float, byte>(ref Unsafe.Add(ref s, pn * w)), (uint)(w * sizeof(float)));
            }
        }
    }

    /// <summary>tile (MR × 2W, float32) = Σ_p a_p b_pᵀ over kc packed steps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel<TL, TV>(ref float a, ref float b, int kc, float[] tile)
        where TL : struct, ILanes<TV>
        where TV : struct
    {
        var w = TL.Count;
        TV c00 = TL.Zero, c01 = TL.Zero, c10 = TL.Zero, c11 = TL.Zero, c20 = TL.Zero, c21 = TL.Zero;
        TV c30 = TL.Zero, c31 = TL.Zero, c40 = TL.Zero, c41 = TL.Zero, c50 = TL.Zero, c51 = TL.Zero;
        ref var bp = ref b;
        ref var ar = ref a;
        for (var p = 0; p < kc; p++)
        {
            var b0 = TL.Load(ref bp);
            var b1 = TL.Load(ref Unsafe.Add(ref bp, w));
            var x = TL.Broadcast(ar);
            c00 = TL.Fma(x, b0, c00);
            c01 = TL.Fma(x, b1, c01);
            x = TL.Broadcast(Unsafe.Add(ref ar, 1));
            c10 = TL.Fma(x, b0, c10);
            c11 = TL.Fma(x, b1, c11);
            x = TL.Broadcast(Unsafe.Add(ref ar, 2));
            c20 = TL.Fma(x, b0, c20);
            c21 = TL.Fma(x, b1, c21);
            x = TL.Broadcast(Unsafe.Add(ref ar, 3));
            c30 = TL.Fma(x, b0, c30);
            c31 = TL.Fma(x, b1, c31);
            x = TL.Broadcast(Unsafe.Add(ref ar, 4));
            c40 = TL.Fma(x, b0, c40);
            c41 = TL.Fma(x, b1, c41);
            x = TL.Broadcast(Unsafe.Add(ref ar, 5));
            c50 = TL.Fma(x, b0, c50);
            c51 = TL.Fma(x, b1, c51);
            bp = ref Unsafe.Add(ref bp, 2 * w);
            ar = ref Unsafe.Add(ref ar, MR);
        }

        ref var t = ref tile[0];
        TL.Store(c00, ref t);
        TL.Store(c01, ref Unsafe.Add(ref t, w));
        TL.Store(c10, ref Unsafe.Add(ref t, 2 * w));
        TL.Store(c11, ref Unsafe.Add(ref t, 3 * w));
        TL.Store(c20, ref Unsafe.Add(ref t, 4 * w));
        TL.Store(c21, ref Unsafe.Add(ref t, 5 * w));
        TL.Store(c30, ref Unsafe.Add(ref t, 6 * w));
        TL.Store(c31, ref Unsafe.Add(ref t, 7 * w));
        TL.Store(c40, ref Unsafe.Add(ref t, 8 * w));
        TL.Store(c41, ref Unsafe.Add(ref t, 9 * w));
        TL.Store(c50, ref Unsafe.Add(ref t, 10 * w));
        TL.Store(c51, ref Unsafe.Add(ref t, 11 * w));
    }

    /// <summary>C[i, j] += tile[i, j] in float64 for the rows × cols valid part of the tile (row stride nr).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddTile(float[] tile, int nr, int rows, int cols, double[] c, long at, int ldc)
    {
        for (var i = 0; i < rows; i++)
        {
            ref var src = ref tile[i * nr];
            ref var dst = ref c[at + ((long)i * ldc)];
            var j = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                for (; j <= cols - 8; j += 8)
                {
                    var v = Vector256.LoadUnsafe(ref src, (nuint)j);
                    (Vector256.LoadUnsafe(ref dst, (nuint)j) + Vector256.WidenLower(v)).StoreUnsafe(ref dst, (nuint)j);
                    (Vector256.LoadUnsafe(ref dst, (nuint)(j + 4)) + Vector256.WidenUpper(v)).StoreUnsafe(ref dst, (nuint)(j + 4));
                }
            }

            for (; j < cols; j++)
            {
                Unsafe.Add(ref dst, j) += Unsafe.Add(ref src, j);
            }
        }
    }

    /// <summary>The SIMD operations of the micro-kernel for one vector width (struct, so the JIT specialises the kernel).</summary>
    private interface ILanes<TV>
        where TV : struct
    {
        static abstract int Count { get; }

        static abstract TV Zero { get; }

        static abstract TV Load(ref float p);

        static abstract TV Broadcast(float v);

        static abstract TV Fma(TV a, TV b, TV c);

        static abstract void Store(TV v, ref float p);
    }

    private readonly struct Lanes512 : ILanes<Vector512<float>>
    {
        public static int Count => Vector512<float>.Count;

        public static Vector512<float> Zero => Vector512<float>.Zero;

        public static Vector512<float> Load(ref float p) => Vector512.LoadUnsafe(ref p);

        public static Vector512<float> Broadcast(float v) => Vector512.Create(v);

        public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);

        public static void Store(Vector512<float> v, ref float p) => v.StoreUnsafe(ref p);
    }

    private readonly struct Lanes256 : ILanes<Vector256<float>>
    {
        public static int Count => Vector256<float>.Count;

        public static Vector256<float> Zero => Vector256<float>.Zero;

        public static Vector256<float> Load(ref float p) => Vector256.LoadUnsafe(ref p);

        public static Vector256<float> Broadcast(float v) => Vector256.Create(v);

        public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);

        public static void Store(Vector256<float> v, ref float p) => v.StoreUnsafe(ref p);
    }
}
