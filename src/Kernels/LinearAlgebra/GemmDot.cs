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

    /// <summary>One register step of <see cref="DotKernel{T, TV, TS}"/> at element <paramref name="at"/>, reading the last <paramref name="keep"/> lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step<T, TV, TS>(T* a0, T* a1, T* a2, T* a3, T* b0, T* b1, T* b2, int at, int keep,
        ref TV s00, ref TV s01, ref TV s02, ref TV s10, ref TV s11, ref TV s12, ref TV s20, ref TV s21, ref TV s22, ref TV s30, ref TV s31, ref TV s32)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TS : struct, ISimd<T, TV>
    {
        var x0 = Load<T, TV, TS>(b0 + at, keep);
        var x1 = Load<T, TV, TS>(b1 + at, keep);
        var x2 = Load<T, TV, TS>(b2 + at, keep);
        Row<T, TV, TS>(Load<T, TV, TS>(a0 + at, keep), x0, x1, x2, ref s00, ref s01, ref s02);
        Row<T, TV, TS>(Load<T, TV, TS>(a1 + at, keep), x0, x1, x2, ref s10, ref s11, ref s12);
        Row<T, TV, TS>(Load<T, TV, TS>(a2 + at, keep), x0, x1, x2, ref s20, ref s21, ref s22);
        Row<T, TV, TS>(Load<T, TV, TS>(a3 + at, keep), x0, x1, x2, ref s30, ref s31, ref s32);
    }

    /// <summary>A register at <paramref name="p"/> with all but its last <paramref name="keep"/> lanes zeroed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Load<T, TV, TS>(T* p, int keep)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TS : struct, ISimd<T, TV>
        => keep == TS.Count ? TS.Load(p) : TS.KeepLast(TS.Load(p), keep);

    /// <summary>One row of the 4 × 3 tile: s_j += y·x_j.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row<T, TV, TS>(TV y, TV x0, TV x1, TV x2, ref TV s0, ref TV s1, ref TV s2)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TS : struct, ISimd<T, TV>
    {
        s0 = TS.Fma(y, x0, s0);
        s1 = TS.Fma(y, x1, s1);
        s2 = TS.Fma(y, x2, s2);
    }

    /// <summary>Row <paramref name="i"/> of the tile: C[i, j] += α·Σ s_j, j = 0, 1, 2, inside the mr × nr corner.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddRow<T, TV, TS>(T* c, nint ldc, T alpha, int mr, int nr, int i, TV s0, TV s1, TV s2)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TS : struct, ISimd<T, TV>
    {
        Add(c, ldc, alpha, mr, nr, i, 0, TS.Sum(s0));
        Add(c, ldc, alpha, mr, nr, i, 1, TS.Sum(s1));
        Add(c, ldc, alpha, mr, nr, i, 2, TS.Sum(s2));
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
    /// The 4 × 3 tile C[i, j] += α·aᵢ·bⱼ over len elements in registers; returns len, or 0 when len is shorter than one
    /// register (the caller then runs the scalar instance).
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
        if (len < w)
        {
            return 0;
        }

        // Whole registers, then the tail as one more register ending at len with its already-summed lanes masked off.
        var p = 0;
        for (; p <= len - w; p += w)
        {
            Step<T, TV, TS>(a0, a1, a2, a3, b0, b1, b2, p, w, ref s00, ref s01, ref s02, ref s10, ref s11, ref s12, ref s20, ref s21, ref s22, ref s30, ref s31, ref s32);
        }

        if (p < len)
        {
            Step<T, TV, TS>(a0, a1, a2, a3, b0, b1, b2, len - w, len - p, ref s00, ref s01, ref s02, ref s10, ref s11, ref s12, ref s20, ref s21, ref s22, ref s30, ref s31, ref s32);
        }

        AddRow<T, TV, TS>(c, ldc, alpha, mr, nr, 0, s00, s01, s02);
        AddRow<T, TV, TS>(c, ldc, alpha, mr, nr, 1, s10, s11, s12);
        AddRow<T, TV, TS>(c, ldc, alpha, mr, nr, 2, s20, s21, s22);
        AddRow<T, TV, TS>(c, ldc, alpha, mr, nr, 3, s30, s31, s32);
        return len;
    }
}
