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
                Transposition.Block8x8(ref Unsafe.Add(ref a0, (ib * ld) + jb), ld, ref Unsafe.Add(ref a0, (jb * ld) + ib), ld);
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
