using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace WoodFisher.Kernels.Cpu;

/// <summary>
/// Fused vector loops that <see cref="System.Numerics.Tensors.TensorPrimitives"/> lacks. Each is an operator struct
/// (<see cref="IFusedOperator{T}"/>) run by one driver, <see cref="Run{T, TOp}"/>, that handles the SIMD path, the widths
/// and the tail.
/// </summary>
internal static unsafe class SimdOps
{
    /// <summary>row ← row − coef·u, then returns rowᵀg (one pass over row: the rank-one update fused with the next mat-vec).</summary>
    public static T AxpyThenDot<T>(Span<T> row, T coef, ReadOnlySpan<T> u, ReadOnlySpan<T> g)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* pr = row, pu = u, pg = g)
        {
            return Run(new AxpyOperator<T>(-coef), pu, pr, pg, row.Length);
        }
    }

    /// <summary>xᵀy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Dot<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* px = x, py = y)
        {
            return Run(default(DotOperator<T>), px, py, null, x.Length);
        }
    }

    /// <summary>y ← y + a·x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Axpy<T>(T a, ReadOnlySpan<T> x, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* px = x, py = y)
        {
            Run(new AxpyOperator<T>(a), px, py, null, x.Length);
        }
    }

    /// <summary>
    /// The driver: for i in [0, n), r = op(x_i, y_i, z_i, acc) and, when the operator writes, y_i ← r; returns the sum of the
    /// accumulator. Full registers of the current path first, then 256-bit registers, then scalars for the tail.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T Run<T, TOp>(TOp op, T* x, T* y, T* z, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TOp : struct, IFusedOperator<T>
    {
        var i = 0;
        var sum = T.Zero;
        var path = SimdPaths.Current;
        if (path == SimdPath.Avx512)
        {
            sum += Loop<T, TOp, Vector512<T>, Simd512<T>>(op, x, y, z, n, ref i);
        }

        if (path >= SimdPath.Avx2)
        {
            sum += Loop<T, TOp, Vector256<T>, Simd256<T>>(op, x, y, z, n, ref i);
        }

        return sum + Loop<T, TOp, T, SimdScalar<T>>(op, x, y, z, n, ref i);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static T Loop<T, TOp, TV, TS>(TOp op, T* x, T* y, T* z, int n, ref int start)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TOp : struct, IFusedOperator<T>
        where TV : struct
        where TS : struct, ISimd<T, TV>
    {
        var w = TS.Count;
        var acc = TS.Zero;
        var i = start;
        for (; i <= n - w; i += w)
        {
            var r = op.Invoke<TV, TS>(TS.Load(x + i), TS.Load(y + i), z == null ? TS.Zero : TS.Load(z + i), ref acc);
            if (TOp.Writes)
            {
                TS.Store(r, y + i);
            }
        }

        start = i;
        return TS.Sum(acc);
    }
}

/// <summary>An element-wise operator of <see cref="SimdOps"/>: written once, for every register type.</summary>
internal interface IFusedOperator<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Whether the result is stored back into y.</summary>
    static abstract bool Writes { get; }

    /// <summary>The new y (when <see cref="Writes"/>) from x, y and z; may add to <paramref name="acc"/>.</summary>
    TV Invoke<TV, TS>(TV x, TV y, TV z, ref TV acc)
        where TV : struct
        where TS : struct, ISimd<T, TV>;
}

/// <summary>acc += x·y.</summary>
internal readonly struct DotOperator<T> : IFusedOperator<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static bool Writes => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Invoke<TV, TS>(TV x, TV y, TV z, ref TV acc)
        where TV : struct
        where TS : struct, ISimd<T, TV>
    {
        acc = TS.Fma(x, y, acc);
        return y;
    }
}

/// <summary>y ← a·x + y, then acc += y·z (z absent: zero, so plain Axpy).</summary>
internal readonly struct AxpyOperator<T>(T a) : IFusedOperator<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static bool Writes => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Invoke<TV, TS>(TV x, TV y, TV z, ref TV acc)
        where TV : struct
        where TS : struct, ISimd<T, TV>
    {
        var r = TS.Fma(TS.Splat(a), x, y);
        acc = TS.Fma(r, z, acc);
        return r;
    }
}
