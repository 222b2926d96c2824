using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace WoodFisher.Kernels.Cpu;

/// <summary>Fused vector loops that <see cref="System.Numerics.Tensors.TensorPrimitives"/> lacks.</summary>
internal static class SimdOps
{
    /// <summary>row ← row − coef·u, then returns rowᵀg (one pass over row: the rank-one update fused with the next mat-vec).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static T AxpyThenDot<T>(Span<T> row, T coef, ReadOnlySpan<T> u, ReadOnlySpan<T> g)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var n = row.Length;
        ref var r = ref MemoryMarshal.GetReference(row);
        ref var uu = ref MemoryMarshal.GetReference(u);
        ref var gg = ref MemoryMarshal.GetReference(g);
        var i = 0;
        var sum = T.Zero;
        if (Vector512.IsHardwareAccelerated && n >= Vector512<T>.Count)
        {
            var w = Vector512<T>.Count;
            var nc = Vector512.Create(-coef);
            var acc = Vector512<T>.Zero;
            for (; i <= n - w; i += w)
            {
                var x = Gemm.Fma(nc, Vector512.LoadUnsafe(ref uu, (nuint)i), Vector512.LoadUnsafe(ref r, (nuint)i));
                x.StoreUnsafe(ref r, (nuint)i);
                acc = Gemm.Fma(x, Vector512.LoadUnsafe(ref gg, (nuint)i), acc);
            }

            sum = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated && n >= Vector256<T>.Count)
        {
            var w = Vector256<T>.Count;
            var nc = Vector256.Create(-coef);
            var acc = Vector256<T>.Zero;
            for (; i <= n - w; i += w)
            {
                var x = Gemm.Fma(nc, Vector256.LoadUnsafe(ref uu, (nuint)i), Vector256.LoadUnsafe(ref r, (nuint)i));
                x.StoreUnsafe(ref r, (nuint)i);
                acc = Gemm.Fma(x, Vector256.LoadUnsafe(ref gg, (nuint)i), acc);
            }

            sum = Vector256.Sum(acc);
        }

        for (; i < n; i++)
        {
            var x = T.FusedMultiplyAdd(-coef, Unsafe.Add(ref uu, i), Unsafe.Add(ref r, i));
            Unsafe.Add(ref r, i) = x;
            sum = T.FusedMultiplyAdd(x, Unsafe.Add(ref gg, i), sum);
        }

        return sum;
    }
    /// <summary>xᵀy (short spans: inlined, no per-call dispatch).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Dot<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var n = x.Length;
        ref var xx = ref MemoryMarshal.GetReference(x);
        ref var yy = ref MemoryMarshal.GetReference(y);
        var i = 0;
        var sum = T.Zero;
        if (Vector512.IsHardwareAccelerated && n >= Vector512<T>.Count)
        {
            var w = Vector512<T>.Count;
            var acc = Vector512<T>.Zero;
            for (; i <= n - w; i += w)
            {
                acc = Gemm.Fma(Vector512.LoadUnsafe(ref xx, (nuint)i), Vector512.LoadUnsafe(ref yy, (nuint)i), acc);
            }

            sum = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated && n >= Vector256<T>.Count)
        {
            var w = Vector256<T>.Count;
            var acc = Vector256<T>.Zero;
            for (; i <= n - w; i += w)
            {
                acc = Gemm.Fma(Vector256.LoadUnsafe(ref xx, (nuint)i), Vector256.LoadUnsafe(ref yy, (nuint)i), acc);
            }

            sum = Vector256.Sum(acc);
        }

        for (; i < n; i++)
        {
            sum = T.FusedMultiplyAdd(Unsafe.Add(ref xx, i), Unsafe.Add(ref yy, i), sum);
        }

        return sum;
    }

    /// <summary>y ← y + a·x (short spans: inlined, no per-call dispatch).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Axpy<T>(T a, ReadOnlySpan<T> x, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var n = x.Length;
        ref var xx = ref MemoryMarshal.GetReference(x);
        ref var yy = ref MemoryMarshal.GetReference(y);
        var i = 0;
        if (Vector512.IsHardwareAccelerated && n >= Vector512<T>.Count)
        {
            var w = Vector512<T>.Count;
            var av = Vector512.Create(a);
            for (; i <= n - w; i += w)
            {
                Gemm.Fma(av, Vector512.LoadUnsafe(ref xx, (nuint)i), Vector512.LoadUnsafe(ref yy, (nuint)i)).StoreUnsafe(ref yy, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated && n >= Vector256<T>.Count)
        {
            var w = Vector256<T>.Count;
            var av = Vector256.Create(a);
            for (; i <= n - w; i += w)
            {
                Gemm.Fma(av, Vector256.LoadUnsafe(ref xx, (nuint)i), Vector256.LoadUnsafe(ref yy, (nuint)i)).StoreUnsafe(ref yy, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            Unsafe.Add(ref yy, i) = T.FusedMultiplyAdd(a, Unsafe.Add(ref xx, i), Unsafe.Add(ref yy, i));
        }
    }
}
