using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace WoodFisher.Kernels.Cpu;

/// <summary>
/// The fused vector loop that <see cref="System.Numerics.Tensors.TensorPrimitives"/> lacks: an Axpy whose result is
/// dotted with a third vector in the same pass. One loop body serves every register type (<see cref="ISimd{T, TV}"/>).
/// </summary>
internal static unsafe class SimdOps
{
    /// <summary>row ← row − coef·u, then returns rowᵀg (one pass over row: the rank-one update fused with the next mat-vec).</summary>
    public static T AxpyThenDot<T>(Span<T> row, T coef, ReadOnlySpan<T> u, ReadOnlySpan<T> g)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* pr = row, pu = u, pg = g)
        {
            // Full registers of the current path first, then 256-bit registers, then scalars for the tail.
            var i = 0;
            var sum = T.Zero;
            var path = SimdPaths.Current;
            if (path == SimdPath.Avx512)
            {
                sum += Loop<T, Vector512<T>, Simd512<T>>(-coef, pu, pr, pg, row.Length, ref i);
            }

            if (path >= SimdPath.Avx2)
            {
                sum += Loop<T, Vector256<T>, Simd256<T>>(-coef, pu, pr, pg, row.Length, ref i);
            }

            return sum + Loop<T, T, SimdScalar<T>>(-coef, pu, pr, pg, row.Length, ref i);
        }
    }

    /// <summary>For i in [start, n) by whole registers: y_i ← a·x_i + y_i, and the sum of y_i·z_i returned.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static T Loop<T, TV, TS>(T a, T* x, T* y, T* z, int n, ref int start)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TS : struct, ISimd<T, TV>
    {
        var w = TS.Count;
        var av = TS.Splat(a);
        var acc = TS.Zero;
        var i = start;
        for (; i <= n - w; i += w)
        {
            var r = TS.Fma(av, TS.Load(x + i), TS.Load(y + i));
            acc = TS.Fma(r, TS.Load(z + i), acc);
            TS.Store(r, y + i);
        }

        start = i;
        return TS.Sum(acc);
    }
}
