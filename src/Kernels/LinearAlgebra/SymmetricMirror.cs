using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace WoodFisher.Kernels;

/// <summary>Completes a symmetric matrix of which one triangle was computed (SYRK and the lower-only GEMM products).</summary>
internal static class SymmetricMirror
{
    /// <summary>Copies the strict lower triangle of the n × n row-major matrix onto the upper.</summary>
    public static void LowerToUpper<T>(Span<T> a, int n) => LowerToUpper(a, n, n);

    /// <summary>
    /// Copies the strict lower triangle of the n × n row-major matrix with leading dimension <paramref name="ld"/> onto the
    /// upper.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LowerToUpper<T>(Span<T> a, int n, int ld)
    {
        if (typeof(T) == typeof(float) && Avx.IsSupported && SimdPaths.Current != SimdPath.Scalar)
        {
            MirrorLowerAvx(MemoryMarshal.CreateSpan(ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(a)), a.Length), n, ld);
            return;
        }

        const int tile = 32;
        for (var ib = 0; ib < n; ib += tile)
        {
            var ie = Math.Min(n, ib + tile);
            for (var jb = 0; jb <= ib; jb += tile)
            {
                var je = Math.Min(n, jb + tile);
                for (var i = ib; i < ie; i++)
                {
                    var jEnd = Math.Min(je, i);
                    for (var j = jb; j < jEnd; j++)
                    {
                        a[(j * ld) + i] = a[(i * ld) + j];
                    }
                }
            }
        }
    }

    /// <summary>
    /// <see cref="LowerToUpper{T}(Span{T}, int, int)"/> for float32 by 8 × 8 blocks transposed in registers: both the reads below the diagonal
    /// and the writes above it are row segments, where an element-wise mirror strides through memory by whole rows (and,
    /// for power-of-two n, through a single cache set).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MirrorLowerAvx(Span<float> a, int n, int ld)
    {
        var n8 = n / 8 * 8;
        ref var a0 = ref MemoryMarshal.GetReference(a);
        for (var jb = 0; jb < n8; jb += 8)
        {
            for (var ib = jb + 8; ib < n8; ib += 8)
            {
                ref var src = ref Unsafe.Add(ref a0, (ib * ld) + jb);
                var r0 = Vector256.LoadUnsafe(ref src);
                var r1 = Vector256.LoadUnsafe(ref src, (nuint)ld);
                var r2 = Vector256.LoadUnsafe(ref src, (nuint)(2 * ld));
                var r3 = Vector256.LoadUnsafe(ref src, (nuint)(3 * ld));
                var r4 = Vector256.LoadUnsafe(ref src, (nuint)(4 * ld));
                var r5 = Vector256.LoadUnsafe(ref src, (nuint)(5 * ld));
                var r6 = Vector256.LoadUnsafe(ref src, (nuint)(6 * ld));
                var r7 = Vector256.LoadUnsafe(ref src, (nuint)(7 * ld));
                var t0 = Avx.UnpackLow(r0, r1);
                var t1 = Avx.UnpackHigh(r0, r1);
                var t2 = Avx.UnpackLow(r2, r3);
                var t3 = Avx.UnpackHigh(r2, r3);
                var t4 = Avx.UnpackLow(r4, r5);
                var t5 = Avx.UnpackHigh(r4, r5);
                var t6 = Avx.UnpackLow(r6, r7);
                var t7 = Avx.UnpackHigh(r6, r7);
                var u0 = Avx.Shuffle(t0, t2, 0x44);
                var u1 = Avx.Shuffle(t0, t2, 0xEE);
                var u2 = Avx.Shuffle(t1, t3, 0x44);
                var u3 = Avx.Shuffle(t1, t3, 0xEE);
                var u4 = Avx.Shuffle(t4, t6, 0x44);
                var u5 = Avx.Shuffle(t4, t6, 0xEE);
                var u6 = Avx.Shuffle(t5, t7, 0x44);
                var u7 = Avx.Shuffle(t5, t7, 0xEE);
                ref var dst = ref Unsafe.Add(ref a0, (jb * ld) + ib);
                Avx.Permute2x128(u0, u4, 0x20).StoreUnsafe(ref dst);
                Avx.Permute2x128(u1, u5, 0x20).StoreUnsafe(ref dst, (nuint)ld);
                Avx.Permute2x128(u2, u6, 0x20).StoreUnsafe(ref dst, (nuint)(2 * ld));
                Avx.Permute2x128(u3, u7, 0x20).StoreUnsafe(ref dst, (nuint)(3 * ld));
                Avx.Permute2x128(u0, u4, 0x31).StoreUnsafe(ref dst, (nuint)(4 * ld));
                Avx.Permute2x128(u1, u5, 0x31).StoreUnsafe(ref dst, (nuint)(5 * ld));
                Avx.Permute2x128(u2, u6, 0x31).StoreUnsafe(ref dst, (nuint)(6 * ld));
                Avx.Permute2x128(u3, u7, 0x31).StoreUnsafe(ref dst, (nuint)(7 * ld));
            }

            for (var i = jb + 1; i < jb + 8; i++)
            {
                for (var j = jb; j < i; j++)
                {
                    a[(j * ld) + i] = a[(i * ld) + j];
                }
            }
        }

        for (var i = n8; i < n; i++)
        {
            for (var j = 0; j < i; j++)
            {
                a[(j * ld) + i] = a[(i * ld) + j];
            }
        }
    }
}
