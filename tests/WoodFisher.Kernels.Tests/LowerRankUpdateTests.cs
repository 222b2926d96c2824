using WoodFisher.Kernels;

namespace WoodFisher.Kernels.Tests;

/// <summary>
/// The two products of the SPD inverse's sweep step: the signed rank-k update of a lower triangle from W packed once
/// (<see cref="Gemm.LowerRankUpdate{T}"/>) and Z = X·V with V upper triangular (<see cref="Gemm.MultiplyUpperTriangular{T}"/>),
/// each against the general GEMM, which computes every entry by the same FMA chain, so bit for bit.
/// </summary>
[TestFixture]
public unsafe class LowerRankUpdateTests
{
    /// <summary>
    /// Lower triangle of C + s_i·W_iW_jᵀ (s_i = +1 above <c>split</c>, −1 from it on) equals C + W_top·Wᵀ and C − W_bottom·Wᵀ
    /// by <see cref="Gemm.Multiply{T}(int, int, int, T, StridedMatrix{T}, StridedMatrix{T}, T[], long, int, bool, bool)"/>,
    /// bit for bit: the same products summed in the same order, negation exact. Orders around the register tile (6 × 2W) and
    /// the row blocks (96), depths below, at and past one packed panel (256), splits at either end and inside a tile.
    /// </summary>
    [Test]
    public void Update_EqualsSignedGemm_BitForBit_OnEveryPath(
        [Values(1, 5, 63, 65, 129, 401)] int n, [Values(1, 64, 300)] int k, [Values(0, 0.37, 1.0)] double splitAt, [Values] bool parallel)
    {
        var split = (int)(splitAt * n);
        var w = Oracle.RandomGradients(n + k, n, k);
        var c0 = Oracle.RandomGradients(n + (2 * k), n, n);
        foreach (var path in SimdPaths.Available)
        {
            using var _ = SimdPaths.Force(path);
            Check(n, k, split, w, c0, parallel, path);
            Check(n, k, split, w.Select(x => (float)x).ToArray(), c0.Select(x => (float)x).ToArray(), parallel, path);
        }
    }

    /// <summary>
    /// Z + X·V for V upper triangular equals the general GEMM with the whole V, bit for bit: the products skipped lie below
    /// V's diagonal, and adding an exact zero to a nonzero sum changes nothing. Orders of V around the register width.
    /// </summary>
    [Test]
    public void TriangularProduct_EqualsGemm_BitForBit_OnEveryPath([Values(1, 7, 64, 130)] int m, [Values(1, 15, 16, 33, 64)] int k, [Values] bool parallel)
    {
        var x = Oracle.RandomGradients(m + k, m, k);
        var v = Oracle.RandomGradients(m + (3 * k), k, k);
        for (var i = 0; i < k; i++)
        {
            for (var j = 0; j < i; j++)
            {
                v[(i * k) + j] = 0;
            }
        }

        var z0 = Oracle.RandomGradients(m + (5 * k), m, k);
        foreach (var path in SimdPaths.Available)
        {
            using var _ = SimdPaths.Force(path);
            CheckTriangular(m, k, x, v, z0, parallel, path);
            CheckTriangular(m, k, x.Select(e => (float)e).ToArray(), v.Select(e => (float)e).ToArray(), z0.Select(e => (float)e).ToArray(), parallel, path);
        }
    }

    private static void Check<T>(int n, int k, int split, T[] w, T[] c0, bool parallel, SimdPath path)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var expect = (T[])c0.Clone();
        var wt = StridedMatrix<T>.Transposed(w, 0, k);
        Gemm.Multiply(split, n, k, T.One, StridedMatrix<T>.RowMajor(w, 0, k), wt, expect, 0, n);
        Gemm.Multiply(n - split, n, k, -T.One, StridedMatrix<T>.RowMajor(w, (long)split * k, k), wt, expect, (long)split * n, n);
        var got = (T[])c0.Clone();
        fixed (T* pw = w, pc = got)
        {
            Gemm.LowerRankUpdate(n, k, pw, k, pc, n, split, parallel);
        }

        var lower = Enumerable.Range(0, n * n).Where(e => e % n <= e / n).ToArray();
        Assert.That(lower.Select(e => got[e]), Is.EqualTo(lower.Select(e => expect[e])), $"{path} {typeof(T).Name}");
    }

    private static void CheckTriangular<T>(int m, int k, T[] x, T[] v, T[] z0, bool parallel, SimdPath path)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var expect = (T[])z0.Clone();
        Gemm.Multiply(m, k, k, T.One, StridedMatrix<T>.RowMajor(x, 0, k), StridedMatrix<T>.RowMajor(v, 0, k), expect, 0, k);
        var got = (T[])z0.Clone();
        fixed (T* px = x, pv = v, pz = got)
        {
            Gemm.MultiplyUpperTriangular(m, k, PinnedMatrix<T>.RowMajor(px, k, transpose: false), pv, k, pz, k, parallel);
        }

        Assert.That(got, Is.EqualTo(expect), $"{path} {typeof(T).Name}");
    }
}
