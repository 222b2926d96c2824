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

        // U_k = (P_k − Σ_{j<k} U_jk·U_j) / √pivot, from the registers holding column k onwards. The pointers step by rows
        // (no index arithmetic per product), so that a product costs its broadcast and its load.
        var minusOne = TS.Splat(-T.One);
        for (var k = 0; k < b; k++)
        {
            var rk = s + (k * ls);
            var c0 = k / w * w;
            for (var c = c0; c < ls; c += w)
            {
                TV acc0 = TS.Zero, acc1 = TS.Zero, acc2 = TS.Zero, acc3 = TS.Zero;
                var ujk = s + k;
                var uj = s + c;
                var j = 0;
                for (; j + 4 <= k; j += 4)
                {
                    acc0 = TS.Fma(TS.Splat(ujk[0]), TS.Load(uj), acc0);
                    acc1 = TS.Fma(TS.Splat(ujk[ls]), TS.Load(uj + ls), acc1);
                    acc2 = TS.Fma(TS.Splat(ujk[2 * ls]), TS.Load(uj + (2 * ls)), acc2);
                    acc3 = TS.Fma(TS.Splat(ujk[3 * ls]), TS.Load(uj + (3 * ls)), acc3);
                    ujk += 4 * ls;
                    uj += 4 * ls;
                }

                for (; j < k; j++)
                {
                    acc0 = TS.Fma(TS.Splat(*ujk), TS.Load(uj), acc0);
                    ujk += ls;
                    uj += ls;
                }

                TS.Store(TS.Fma(minusOne, TS.Add(TS.Add(acc0, acc1), TS.Add(acc2, acc3)), TS.Load(rk + c)), rk + c);
            }

            var p = rk[k];
            if (!(p > T.Zero) || !T.IsFinite(p))
            {
                pivot = k;
                value = p;
                return false;
            }

            var scale = TS.Splat(T.One / T.Sqrt(p));
            for (var c = c0; c < ls; c += w)
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
            for (var c = k / w * w; c < ls; c += w)
            {
                TV acc0 = TS.Zero, acc1 = TS.Zero, acc2 = TS.Zero, acc3 = TS.Zero;
                var ukj = u + k + 1;
                var vj = s + ((k + 1) * ls) + c;
                var j = k + 1;
                for (; j + 4 <= b; j += 4)
                {
                    acc0 = TS.Fma(TS.Splat(ukj[0]), TS.Load(vj), acc0);
                    acc1 = TS.Fma(TS.Splat(ukj[1]), TS.Load(vj + ls), acc1);
                    acc2 = TS.Fma(TS.Splat(ukj[2]), TS.Load(vj + (2 * ls)), acc2);
                    acc3 = TS.Fma(TS.Splat(ukj[3]), TS.Load(vj + (3 * ls)), acc3);
                    ukj += 4;
                    vj += 4 * ls;
                }

                for (; j < b; j++)
                {
                    acc0 = TS.Fma(TS.Splat(*ukj), TS.Load(vj), acc0);
                    ukj++;
                    vj += ls;
                }

                TS.Store(TS.Fma(TS.Add(TS.Add(acc0, acc1), TS.Add(acc2, acc3)), scale, TS.Zero), rk + c);
            }

            rk[k] = inv;
        }
    }
}
