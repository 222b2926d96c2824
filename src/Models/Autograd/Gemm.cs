using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace WoodFisher.Models.Autograd;

/// <summary>
/// General matrix product C = op(A)·op(B) (+ C when accumulating), row-major, op = identity or transpose.
/// Transposed operands are packed to row-major once (O(mk + kn) against the O(mnk) product), then a cache-blocked
/// 4×(2·Vector256) register-tiled kernel runs over row blocks of C, split across cores for large products.
/// </summary>
public static class Gemm
{
    private const int KBlock = 256;
    private const long ParallelThreshold = 1L << 18;
    private const long DotThreshold = 1L << 20;

    /// <summary>
    /// C[m×n] (+)= op(A)[m×k] · op(B)[k×n]. A is stored [m×k] (or [k×m] when <paramref name="transA"/>),
    /// B is stored [k×n] (or [n×k] when <paramref name="transB"/>); all contiguous row-major.
    /// </summary>
    public static unsafe void Multiply<T>(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, bool accumulate = false, bool parallel = true)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (a.Length < (long)m * k || b.Length < (long)k * n || c.Length < (long)m * n)
            throw new ArgumentException($"Operand too small for a {m}×{k} by {k}×{n} product.");
        if (!accumulate)
            c[..(m * n)].Clear();
        if (m == 0 || n == 0 || k == 0)
            return;
        if (transB && !transA && k >= 16 && (long)m * n * k <= DotThreshold)
        {
            // A·Bᵀ with both operands row-major is a grid of contiguous dot products: for the small per-sample products of
            // convolutions (e.g. 16×150 outputs over 100 positions) this beats packing Bᵀ.
            for (var i = 0; i < m; i++)
            {
                var ai = a.Slice(i * k, k);
                var ci = c.Slice(i * n, n);
                for (var j = 0; j < n; j++)
                    ci[j] += System.Numerics.Tensors.TensorPrimitives.Dot(ai, b.Slice(j * k, k));
            }
            return;
        }
        T[]? ta = null, tb = null;
        try
        {
            if (transA)
            {
                ta = ArrayPool<T>.Shared.Rent(m * k);
                Transpose(a, ta, k, m);
                a = ta;
            }
            if (transB)
            {
                tb = ArrayPool<T>.Shared.Rent(k * n);
                Transpose(b, tb, n, k);
                b = tb;
            }
            fixed (T* pa = a, pb = b, pc = c)
            {
                nint ia = (nint)pa, ib = (nint)pb, ic = (nint)pc;
                var work = (long)m * n * k;
                var threads = Environment.ProcessorCount;
                if (parallel && threads > 1 && work >= ParallelThreshold && m >= 8)
                {
                    var chunks = Math.Min(threads * 2, (m + 3) / 4);
                    var rowsPer = ((m + chunks - 1) / chunks + 3) / 4 * 4;
                    Parallel.For(0, (m + rowsPer - 1) / rowsPer, ch =>
                    {
                        var r0 = ch * rowsPer;
                        var r1 = Math.Min(m, r0 + rowsPer);
                        Kernel((T*)ia, (T*)ib, (T*)ic, r0, r1, n, k);
                    });
                }
                else
                {
                    Kernel(pa, pb, pc, 0, m, n, k);
                }
            }
        }
        finally
        {
            if (ta is not null)
                ArrayPool<T>.Shared.Return(ta);
            if (tb is not null)
                ArrayPool<T>.Shared.Return(tb);
        }
    }

    /// <summary>dst[cols×rows] = srcᵀ where src is [rows×cols] row-major.</summary>
    public static void Transpose<T>(ReadOnlySpan<T> src, Span<T> dst, int rows, int cols)
    {
        const int Bs = 32;
        for (var i0 = 0; i0 < rows; i0 += Bs)
        {
            var i1 = Math.Min(rows, i0 + Bs);
            for (var j0 = 0; j0 < cols; j0 += Bs)
            {
                var j1 = Math.Min(cols, j0 + Bs);
                for (var i = i0; i < i1; i++)
                    for (var j = j0; j < j1; j++)
                        dst[j * rows + i] = src[i * cols + j];
            }
        }
    }

    private static unsafe void Kernel<T>(T* a, T* b, T* c, int r0, int r1, int n, int k)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var w = Vector256<T>.Count;
        var accel = Vector256.IsHardwareAccelerated;
        for (var k0 = 0; k0 < k; k0 += KBlock)
        {
            var k1 = Math.Min(k, k0 + KBlock);
            var i = r0;
            for (; i + 4 <= r1; i += 4)
            {
                T* a0 = a + (long)i * k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k;
                T* c0 = c + (long)i * n, c1 = c0 + n, c2 = c1 + n, c3 = c2 + n;
                var j = 0;
                if (accel)
                {
                    for (; j + 2 * w <= n; j += 2 * w)
                    {
                        var x00 = Vector256.Load(c0 + j); var x01 = Vector256.Load(c0 + j + w);
                        var x10 = Vector256.Load(c1 + j); var x11 = Vector256.Load(c1 + j + w);
                        var x20 = Vector256.Load(c2 + j); var x21 = Vector256.Load(c2 + j + w);
                        var x30 = Vector256.Load(c3 + j); var x31 = Vector256.Load(c3 + j + w);
                        T* bp = b + (long)k0 * n + j;
                        for (var p = k0; p < k1; p++, bp += n)
                        {
                            var b0 = Vector256.Load(bp);
                            var b1 = Vector256.Load(bp + w);
                            var s = Vector256.Create(a0[p]);
                            x00 = Fma(s, b0, x00); x01 = Fma(s, b1, x01);
                            s = Vector256.Create(a1[p]);
                            x10 = Fma(s, b0, x10); x11 = Fma(s, b1, x11);
                            s = Vector256.Create(a2[p]);
                            x20 = Fma(s, b0, x20); x21 = Fma(s, b1, x21);
                            s = Vector256.Create(a3[p]);
                            x30 = Fma(s, b0, x30); x31 = Fma(s, b1, x31);
                        }
                        x00.Store(c0 + j); x01.Store(c0 + j + w);
                        x10.Store(c1 + j); x11.Store(c1 + j + w);
                        x20.Store(c2 + j); x21.Store(c2 + j + w);
                        x30.Store(c3 + j); x31.Store(c3 + j + w);
                    }
                    for (; j + w <= n; j += w)
                    {
                        var x0 = Vector256.Load(c0 + j); var x1 = Vector256.Load(c1 + j);
                        var x2 = Vector256.Load(c2 + j); var x3 = Vector256.Load(c3 + j);
                        T* bp = b + (long)k0 * n + j;
                        for (var p = k0; p < k1; p++, bp += n)
                        {
                            var b0 = Vector256.Load(bp);
                            x0 = Fma(Vector256.Create(a0[p]), b0, x0);
                            x1 = Fma(Vector256.Create(a1[p]), b0, x1);
                            x2 = Fma(Vector256.Create(a2[p]), b0, x2);
                            x3 = Fma(Vector256.Create(a3[p]), b0, x3);
                        }
                        x0.Store(c0 + j); x1.Store(c1 + j); x2.Store(c2 + j); x3.Store(c3 + j);
                    }
                }
                for (; j < n; j++)
                {
                    T s0 = c0[j], s1 = c1[j], s2 = c2[j], s3 = c3[j];
                    for (var p = k0; p < k1; p++)
                    {
                        var bv = b[(long)p * n + j];
                        s0 += a0[p] * bv; s1 += a1[p] * bv; s2 += a2[p] * bv; s3 += a3[p] * bv;
                    }
                    c0[j] = s0; c1[j] = s1; c2[j] = s2; c3[j] = s3;
                }
            }
            for (; i < r1; i++)
            {
                T* ar = a + (long)i * k;
                T* cr = c + (long)i * n;
                for (var p = k0; p < k1; p++)
                {
                    var s = ar[p];
                    if (s == T.Zero)
                        continue;
                    T* br = b + (long)p * n;
                    var j = 0;
                    if (accel)
                    {
                        var sv = Vector256.Create(s);
                        for (; j + w <= n; j += w)
                            Fma(sv, Vector256.Load(br + j), Vector256.Load(cr + j)).Store(cr + j);
                    }
                    for (; j < n; j++)
                        cr[j] += s * br[j];
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Fma<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c)
    {
        if (typeof(T) == typeof(float))
            return Vector256.FusedMultiplyAdd(a.As<T, float>(), b.As<T, float>(), c.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector256.FusedMultiplyAdd(a.As<T, double>(), b.As<T, double>(), c.As<T, double>()).As<double, T>();
        return a * b + c;
    }
}
