using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace WoodFisher.Kernels;

/// <summary>
/// C += α·A·Bᵀ for a small C and a long inner dimension with both operands' rows contiguous along it (a convolution's
/// weight gradient: output gradients times input windows). Each 4 × 3 tile of C is 12 dot products held in registers
/// over a whole slice of k, so neither operand is packed: the rows are read where they lie.
/// </summary>
internal static unsafe class GemmDot
{
    /// <summary>Tile rows (of A), tile columns (rows of B), and the slice of k per pass (a tile's 7 rows stay in L1).</summary>
    private const int DotRows = 4, DotCols = 3, DotSlice = 1024;

    /// <summary>C (m × n, row stride ldc) += α·Σ_p A.Row(i)[p]·B.Row(j)[p] over p ∈ [0, k).</summary>
    internal static void Multiply<T>(int m, int n, int k, T alpha, PinnedMatrix<T> a, PinnedMatrix<T> b, T* c, nint ldc, bool parallel)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (m == 0 || n == 0 || k == 0)
        {
            return;
        }

        var rowTiles = (m + DotRows - 1) / DotRows;
        var colTiles = (n + DotCols - 1) / DotCols;
        var cores = Environment.ProcessorCount;
        if (!parallel || cores == 1)
        {
            DotTiles(0, rowTiles * colTiles, colTiles, m, n, 0, k, alpha, a, b, c, ldc);
            return;
        }

        if (rowTiles * colTiles >= 4 * cores)
        {
            var tiles = rowTiles * colTiles;
            var per = (tiles + cores - 1) / cores;
            Cpu.BlockParallel.For(cores, part => DotTiles(part * per, Math.Min(tiles, (part + 1) * per), colTiles, m, n, 0, k, alpha, a, b, c, ldc));
            return;
        }

        // Few tiles: each core takes a slice of k.
        var parts = Math.Max(1, Math.Min(cores, k / DotSlice));
        var slice = (k + parts - 1) / parts;
        Gemm.SplitK<T>(parts, m, n, c, ldc, (p, cp) =>
        {
            var k0 = p * slice;
            DotTiles(0, rowTiles * colTiles, colTiles, m, n, k0, Math.Min(k, k0 + slice), alpha, a, b, (T*)cp, n);
        });
    }

    private static void DotTiles<T>(int first, int last, int colTiles, int m, int n, int k0, int k1, T alpha, PinnedMatrix<T> a, PinnedMatrix<T> b, T* c, nint ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var path = SimdPaths.Current;
        for (var p0 = k0; p0 < k1; p0 += DotSlice)
        {
            var len = Math.Min(DotSlice, k1 - p0);
            for (var t = first; t < last; t++)
            {
                var i0 = t / colTiles * DotRows;
                var j0 = t % colTiles * DotCols;
                var mr = Math.Min(DotRows, m - i0);
                var nr = Math.Min(DotCols, n - j0);

                // Edge tiles repeat their last row of A or B (valid memory) and store only the mr × nr corner.
                var a0 = a.Row(i0) + p0;
                var a1 = a.Row(i0 + Math.Min(1, mr - 1)) + p0;
                var a2 = a.Row(i0 + Math.Min(2, mr - 1)) + p0;
                var a3 = a.Row(i0 + Math.Min(3, mr - 1)) + p0;
                var b0 = b.Row(j0) + p0;
                var b1 = b.Row(j0 + Math.Min(1, nr - 1)) + p0;
                var b2 = b.Row(j0 + Math.Min(2, nr - 1)) + p0;
                var ct = c + (i0 * ldc) + j0;
                var done = path switch
                {
                    SimdPath.Avx512 => DotKernel<T, Vector512<T>, Simd512<T>>(a0, a1, a2, a3, b0, b1, b2, len, ct, ldc, alpha, mr, nr),
                    SimdPath.Avx2 => DotKernel<T, Vector256<T>, Simd256<T>>(a0, a1, a2, a3, b0, b1, b2, len, ct, ldc, alpha, mr, nr),
                    _ => 0,
                };
                DotKernel<T, T, SimdScalar<T>>(a0 + done, a1 + done, a2 + done, a3 + done, b0 + done, b1 + done, b2 + done, len - done, ct, ldc, alpha, mr, nr);
            }
        }
    }

    /// <summary>C[i, j] += α·s when (i, j) lies in the mr × nr corner of the tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Add<T>(T* c, nint ldc, T alpha, int mr, int nr, int i, int j, T s)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (i < mr && j < nr)
        {
            c[(i * ldc) + j] += alpha * s;
        }
    }

    /// <summary>
    /// The 4 × 3 tile C[i, j] += α·aᵢ·bⱼ over the whole registers of len elements; returns how many elements it took (the
    /// caller runs the scalar instance on the rest).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int DotKernel<T, TV, TS>(T* a0, T* a1, T* a2, T* a3, T* b0, T* b1, T* b2, int len, T* c, nint ldc, T alpha, int mr, int nr)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TS : struct, ISimd<T, TV>
    {
        var w = TS.Count;
        TV s00 = TS.Zero, s01 = TS.Zero, s02 = TS.Zero, s10 = TS.Zero, s11 = TS.Zero, s12 = TS.Zero;
        TV s20 = TS.Zero, s21 = TS.Zero, s22 = TS.Zero, s30 = TS.Zero, s31 = TS.Zero, s32 = TS.Zero;
        var p = 0;
        for (; p <= len - w; p += w)
        {
            var x0 = TS.Load(b0 + p);
            var x1 = TS.Load(b1 + p);
            var x2 = TS.Load(b2 + p);
            var y = TS.Load(a0 + p);
            s00 = TS.Fma(y, x0, s00);
            s01 = TS.Fma(y, x1, s01);
            s02 = TS.Fma(y, x2, s02);
            y = TS.Load(a1 + p);
            s10 = TS.Fma(y, x0, s10);
            s11 = TS.Fma(y, x1, s11);
            s12 = TS.Fma(y, x2, s12);
            y = TS.Load(a2 + p);
            s20 = TS.Fma(y, x0, s20);
            s21 = TS.Fma(y, x1, s21);
            s22 = TS.Fma(y, x2, s22);
            y = TS.Load(a3 + p);
            s30 = TS.Fma(y, x0, s30);
            s31 = TS.Fma(y, x1, s31);
            s32 = TS.Fma(y, x2, s32);
        }

        Add(c, ldc, alpha, mr, nr, 0, 0, TS.Sum(s00));
        Add(c, ldc, alpha, mr, nr, 0, 1, TS.Sum(s01));
        Add(c, ldc, alpha, mr, nr, 0, 2, TS.Sum(s02));
        Add(c, ldc, alpha, mr, nr, 1, 0, TS.Sum(s10));
        Add(c, ldc, alpha, mr, nr, 1, 1, TS.Sum(s11));
        Add(c, ldc, alpha, mr, nr, 1, 2, TS.Sum(s12));
        Add(c, ldc, alpha, mr, nr, 2, 0, TS.Sum(s20));
        Add(c, ldc, alpha, mr, nr, 2, 1, TS.Sum(s21));
        Add(c, ldc, alpha, mr, nr, 2, 2, TS.Sum(s22));
        Add(c, ldc, alpha, mr, nr, 3, 0, TS.Sum(s30));
        Add(c, ldc, alpha, mr, nr, 3, 1, TS.Sum(s31));
        Add(c, ldc, alpha, mr, nr, 3, 2, TS.Sum(s32));
        return p;
    }
}
