using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace WoodFisher.Kernels;

/// <summary>
/// The diagonal block of the blocked Cholesky factor and SPD inverse (<see cref="LinearAlgebra.TryCholeskyFactor{T}"/>,
/// <see cref="LinearAlgebra.TryCholeskyInvert{T}(Span{T}, int)"/>): the Cholesky factor P = UᵀU of a small SPD block and
/// V = U⁻¹, both by rows with each row held in registers while the earlier (or later) rows are added into it (four
/// independent sums), so that every multiply-add costs one load.
/// </summary>
internal static unsafe class CholeskyLeaf
{
    /// <summary>Row stride of a block of order b: b rounded up to whole registers of the current SIMD path.</summary>
    public static int Stride<T>(int b)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var w = Gemm.Width<T>();
        return (b + w - 1) / w * w;
    }

    /// <summary>
    /// Factors the b × b diagonal block at (k0, k0) of the n × n row-major <paramref name="a"/> (lower triangle read), P =
    /// UᵀU, into <paramref name="s"/>: U by rows, row stride <paramref name="ls"/> = <see cref="Stride{T}"/>, zero below the
    /// diagonal and in columns b..ls. False at the first pivot (P_kk − Σ_j U_jk²) ≤ 0 or NaN, with its index in A (k0 + k)
    /// and value out (rows before it then hold U, the rest is partly overwritten).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool FactorBlock<T>(T* a, int n, int k0, int b, T* s, int ls, out int pivot, out T value)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (var p = 0; p < b; p++)
        {
            var row = a + ((k0 + p) * n) + k0;
            new Span<T>(s + (p * ls), ls).Clear();
            for (var q = 0; q <= p; q++)
            {
                s[(q * ls) + p] = row[q];
            }
        }

        var ok = SimdPaths.Current switch
        {
            SimdPath.Avx512 => Factor<T, Vector512<T>, Simd512<T>>(s, b, ls, out pivot, out value),
            SimdPath.Avx2 => Factor<T, Vector256<T>, Simd256<T>>(s, b, ls, out pivot, out value),
            _ => Factor<T, T, SimdScalar<T>>(s, b, ls, out pivot, out value),
        };
        pivot = ok ? -1 : pivot + k0;
        return ok;
    }

    /// <summary>Replaces the upper-triangular U in <paramref name="s"/> (as <see cref="FactorBlock{T}"/> leaves it) by V = U⁻¹.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Invert<T>(T* s, int b, int ls)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (SimdPaths.Current)
        {
            case SimdPath.Avx512:
                Invert<T, Vector512<T>, Simd512<T>>(s, b, ls);
                break;
            case SimdPath.Avx2:
                Invert<T, Vector256<T>, Simd256<T>>(s, b, ls);
                break;
            default:
                Invert<T, T, SimdScalar<T>>(s, b, ls);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool Factor<T, TV, TS>(T* s, int b, int ls, out int pivot, out T value)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TS : struct, ISimd<T, TV>
    {
        var w = TS.Count;

        // U_k = (P_k − Σ_{j<k} U_jk·U_j) / √pivot, from the registers holding column k onwards.
        var minusOne = TS.Splat(-T.One);
        for (var k = 0; k < b; k++)
        {
            var rk = s + (k * ls);
            for (var c = k / w * w; c < ls; c += 2 * w)
            {
                var pair = c + w < ls;
                Sums<T, TV, TS>(s + k, ls, s + c, ls, k, pair, out var lo, out var hi);
                TS.Store(TS.Fma(minusOne, lo, TS.Load(rk + c)), rk + c);
                if (pair)
                {
                    TS.Store(TS.Fma(minusOne, hi, TS.Load(rk + c + w)), rk + c + w);
                }
            }

            var p = rk[k];
            if (!(p > T.Zero) || !T.IsFinite(p))
            {
                pivot = k;
                value = p;
                return false;
            }

            var scale = TS.Splat(T.One / T.Sqrt(p));
            for (var c = k / w * w; c < ls; c += w)
            {
                TS.Store(TS.Fma(TS.Load(rk + c), scale, TS.Zero), rk + c);
            }

            new Span<T>(rk, k).Clear();
        }

        pivot = -1;
        value = T.Zero;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    private static void Invert<T, TV, TS>(T* s, int b, int ls)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TS : struct, ISimd<T, TV>
    {
        var w = TS.Count;

        // V_k = (e_k − Σ_{j>k} U_kj·V_j) / U_kk, bottom-up; row k of U is copied out first, as V_k overwrites it.
        var u = stackalloc T[ls];
        for (var k = b - 1; k >= 0; k--)
        {
            var rk = s + (k * ls);
            new ReadOnlySpan<T>(rk, ls).CopyTo(new Span<T>(u, ls));
            var inv = T.One / u[k];
            var scale = TS.Splat(-inv);
            for (var c = k / w * w; c < ls; c += 2 * w)
            {
                var pair = c + w < ls;
                Sums<T, TV, TS>(u + k + 1, 1, s + ((k + 1) * ls) + c, ls, b - k - 1, pair, out var lo, out var hi);
                TS.Store(TS.Fma(lo, scale, TS.Zero), rk + c);
                if (pair)
                {
                    TS.Store(TS.Fma(hi, scale, TS.Zero), rk + c + w);
                }
            }

            rk[k] = inv;
        }
    }

    /// <summary>
    /// Σ_j coef[j·step]·row_j over <paramref name="count"/> rows <paramref name="ls"/> apart from <paramref name="rows"/>: the
    /// register at each row into <paramref name="lo"/> and, for a <paramref name="pair"/>, the next one into
    /// <paramref name="hi"/>, each coefficient broadcast once for both. The pointers step by rows (no index arithmetic per
    /// product), and four independent sums hide the FMA latency.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Sums<T, TV, TS>(T* coef, nint step, T* rows, int ls, int count, bool pair, out TV lo, out TV hi)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TS : struct, ISimd<T, TV>
    {
        var w = TS.Count;
        TV a0 = TS.Zero, a1 = TS.Zero, a2 = TS.Zero, a3 = TS.Zero;
        var j = 0;
        if (pair)
        {
            for (; j + 2 <= count; j += 2)
            {
                var u0 = TS.Splat(coef[0]);
                var u1 = TS.Splat(coef[step]);
                a0 = TS.Fma(u0, TS.Load(rows), a0);
                a2 = TS.Fma(u0, TS.Load(rows + w), a2);
                a1 = TS.Fma(u1, TS.Load(rows + ls), a1);
                a3 = TS.Fma(u1, TS.Load(rows + ls + w), a3);
                coef += 2 * step;
                rows += 2 * ls;
            }

            if (j < count)
            {
                var u0 = TS.Splat(coef[0]);
                a0 = TS.Fma(u0, TS.Load(rows), a0);
                a2 = TS.Fma(u0, TS.Load(rows + w), a2);
            }

            lo = TS.Add(a0, a1);
            hi = TS.Add(a2, a3);
            return;
        }

        for (; j + 4 <= count; j += 4)
        {
            a0 = TS.Fma(TS.Splat(coef[0]), TS.Load(rows), a0);
            a1 = TS.Fma(TS.Splat(coef[step]), TS.Load(rows + ls), a1);
            a2 = TS.Fma(TS.Splat(coef[2 * step]), TS.Load(rows + (2 * ls)), a2);
            a3 = TS.Fma(TS.Splat(coef[3 * step]), TS.Load(rows + (3 * ls)), a3);
            coef += 4 * step;
            rows += 4 * ls;
        }

        for (; j < count; j++)
        {
            a0 = TS.Fma(TS.Splat(*coef), TS.Load(rows), a0);
            coef += step;
            rows += ls;
        }

        lo = TS.Add(TS.Add(a0, a1), TS.Add(a2, a3));
        hi = TS.Zero;
    }
}
