using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace WoodFisher.Kernels.Cpu;

/// <summary>
/// Fused vector loops that <see cref="System.Numerics.Tensors.TensorPrimitives"/> lacks or runs slower on the short spans
/// of the Cholesky and triangular solves: one driver, <see cref="Run{T, TMode}"/>, handles the SIMD path, the widths and
/// the tail, and one loop body serves every register type and both modes (<see cref="ILoopMode"/>).
/// </summary>
internal static unsafe class SimdOps
{
    /// <summary>row ← row − coef·u, then returns rowᵀg (one pass over row: the rank-one update fused with the next mat-vec).</summary>
    public static T AxpyThenDot<T>(Span<T> row, T coef, ReadOnlySpan<T> u, ReadOnlySpan<T> g)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* pr = row, pu = u, pg = g)
        {
            return Run<T, AxpyMode>(-coef, pu, pr, pg, row.Length);
        }
    }

    /// <summary>xᵀy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Dot<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* px = x, py = y)
        {
            return Run<T, DotMode>(T.Zero, px, py, null, x.Length);
        }
    }

    /// <summary>
    /// Σᵢ xᵢ·yᵢ with each float32 xᵢ widened exactly, summed in float64: a float32 matrix times a float64 vector a row at a
    /// time without a float64 copy of the row. 256-bit registers on either SIMD path (a residual check's c² terms, not a
    /// kernel's), two accumulators, as one would wait on each FMA's latency.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double DotWidened(ReadOnlySpan<float> x, ReadOnlySpan<double> y)
    {
        var n = x.Length;
        var i = 0;
        var sum = 0.0;
        fixed (float* px = x)
        fixed (double* py = y)
        {
            if (SimdPaths.Current >= SimdPath.Avx2)
            {
                Vector256<double> a0 = default, a1 = default;
                for (; i + 8 <= n; i += 8)
                {
                    var (lower, upper) = Vector256.Widen(Vector256.Load(px + i));
                    a0 = Gemm.Fma(lower, Vector256.Load(py + i), a0);
                    a1 = Gemm.Fma(upper, Vector256.Load(py + i + 4), a1);
                }

                sum = Vector256.Sum(a0 + a1);
            }

            for (; i < n; i++)
            {
                sum += px[i] * py[i];
            }
        }

        return sum;
    }

    /// <summary>dst ← a·x, each product rounded once (as the scalar product rounds it), on the current SIMD path.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scale<T>(ReadOnlySpan<T> x, T a, Span<T> dst)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var n = x.Length;
        var i = 0;
        fixed (T* px = x, pd = dst)
        {
            var path = SimdPaths.Current;
            if (path == SimdPath.Avx512)
            {
                var av = Vector512.Create(a);
                for (; i + Vector512<T>.Count <= n; i += Vector512<T>.Count)
                {
                    (Vector512.Load(px + i) * av).Store(pd + i);
                }
            }

            if (path >= SimdPath.Avx2)
            {
                var av = Vector256.Create(a);
                for (; i + Vector256<T>.Count <= n; i += Vector256<T>.Count)
                {
                    (Vector256.Load(px + i) * av).Store(pd + i);
                }
            }

            for (; i < n; i++)
            {
                pd[i] = px[i] * a;
            }
        }
    }

    /// <summary>y ← y + a·x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Axpy<T>(T a, ReadOnlySpan<T> x, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* px = x, py = y)
        {
            Run<T, AxpyMode>(a, px, py, null, x.Length);
        }
    }

    /// <summary>
    /// dst = src converted element by element (rounded to nearest, as a cast), for the conversions done once per block or
    /// panel (gradient rows, Gram matrices, blocks, small systems). Fully optimised from the first call: TensorPrimitives'
    /// generic conversion stays in slower code through the first seconds of a process (a few calls per block), where it
    /// took 6% of a c = 512 rank-k update's samples and most of the float32 Dense inverse's first 0.4 s.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Convert<TFrom, TTo>(ReadOnlySpan<TFrom> src, Span<TTo> dst)
        where TFrom : unmanaged, IFloatingPointIeee754<TFrom>
        where TTo : unmanaged, IFloatingPointIeee754<TTo>
    {
        var n = src.Length;
        var i = 0;
        fixed (TFrom* ps = src)
        fixed (TTo* pd = dst)
        {
            if (typeof(TFrom) == typeof(TTo))
            {
                new ReadOnlySpan<TTo>(ps, n).CopyTo(dst);
                return;
            }

            if (typeof(TFrom) == typeof(float) && typeof(TTo) == typeof(double) && Vector256.IsHardwareAccelerated)
            {
                for (; i + 8 <= n; i += 8)
                {
                    var (lower, upper) = Vector256.Widen(Vector256.Load((float*)ps + i));
                    lower.Store((double*)pd + i);
                    upper.Store((double*)pd + i + 4);
                }
            }
            else if (typeof(TFrom) == typeof(double) && typeof(TTo) == typeof(float) && Vector256.IsHardwareAccelerated)
            {
                for (; i + 8 <= n; i += 8)
                {
                    Vector256.Narrow(Vector256.Load((double*)ps + i), Vector256.Load((double*)ps + i + 4)).Store((float*)pd + i);
                }
            }

            for (; i < n; i++)
            {
                pd[i] = TTo.CreateTruncating(ps[i]);
            }
        }
    }

    /// <summary>
    /// The driver: for i in [0, n), in <see cref="AxpyMode"/> y_i ← a·x_i + y_i and acc += y_i·z_i (z null: no sum), in
    /// <see cref="DotMode"/> acc += x_i·y_i; returns the sum of the accumulator. Full registers of the current path first,
    /// then 256-bit registers, then scalars for the tail.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T Run<T, TMode>(T a, T* x, T* y, T* z, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TMode : struct, ILoopMode
    {
        var i = 0;
        var sum = T.Zero;
        var path = SimdPaths.Current;
        if (path == SimdPath.Avx512)
        {
            sum += Loop<T, TMode, Vector512<T>, Simd512<T>>(a, x, y, z, n, ref i);
        }

        if (path >= SimdPath.Avx2)
        {
            sum += Loop<T, TMode, Vector256<T>, Simd256<T>>(a, x, y, z, n, ref i);
        }

        return sum + Loop<T, TMode, T, SimdScalar<T>>(a, x, y, z, n, ref i);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static T Loop<T, TMode, TV, TS>(T a, T* x, T* y, T* z, int n, ref int start)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TMode : struct, ILoopMode
        where TV : struct
        where TS : struct, ISimd<T, TV>
    {
        var w = TS.Count;
        var av = TS.Splat(a);
        var acc = TS.Zero;
        var i = start;
        for (; i <= n - w; i += w)
        {
            if (TMode.Axpy)
            {
                var r = TS.Fma(av, TS.Load(x + i), TS.Load(y + i));
                acc = TS.Fma(r, z == null ? TS.Zero : TS.Load(z + i), acc);
                TS.Store(r, y + i);
            }
            else
            {
                acc = TS.Fma(TS.Load(x + i), TS.Load(y + i), acc);
            }
        }

        start = i;
        return TS.Sum(acc);
    }
}

/// <summary>What <see cref="SimdOps"/>' loop computes, fixed at compile time (one specialised copy per mode).</summary>
internal interface ILoopMode
{
    /// <summary>True: y ← a·x + y, then acc += y·z; false: acc += x·y.</summary>
    static abstract bool Axpy { get; }
}

/// <summary>y ← a·x + y, then acc += y·z.</summary>
internal readonly struct AxpyMode : ILoopMode
{
    public static bool Axpy => true;
}

/// <summary>acc += x·y.</summary>
internal readonly struct DotMode : ILoopMode
{
    public static bool Axpy => false;
}
