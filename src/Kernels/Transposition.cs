using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace WoodFisher.Kernels;

/// <summary>
/// Row-major float32 matrices transposed by 8 × 8 blocks in registers (eight 256-bit loads, twenty-four shuffles, eight
/// stores) where AVX is available, the edges value by value: both the reads and the writes are row segments, where an
/// element-wise transpose strides through memory by whole rows.
/// </summary>
public static class Transposition
{
    private const int Tile = 8;

    /// <summary>The b × features matrix <paramref name="samples"/> (row-major) transposed into <paramref name="output"/> (features × b, row-major).</summary>
    /// <exception cref="ArgumentException">A span holds fewer than b·features values.</exception>
    public static void Transpose(ReadOnlySpan<float> samples, int b, int features, Span<float> output)
    {
        if ((long)b * features > samples.Length || (long)b * features > output.Length)
            throw new ArgumentException($"A {b} × {features} matrix does not fit spans of {samples.Length} and {output.Length} values.");
        if (b == 1)
        {
            samples[..features].CopyTo(output);
            return;
        }

        ref var src = ref MemoryMarshal.GetReference(samples);
        ref var dst = ref MemoryMarshal.GetReference(output);
        var b8 = Avx.IsSupported ? b / Tile * Tile : 0;
        var f8 = Avx.IsSupported ? features / Tile * Tile : 0;
        for (var c = 0; c < f8; c += Tile)
        {
            for (var i = 0; i < b8; i += Tile)
                Block8x8(ref Unsafe.Add(ref src, (i * features) + c), features, ref Unsafe.Add(ref dst, (c * b) + i), b);
        }

        // The edges: samples past the last whole tile (all features), and features past it (the tiled samples).
        for (var i = b8; i < b; i++)
        {
            for (var c = 0; c < features; c++)
                Unsafe.Add(ref dst, (c * b) + i) = Unsafe.Add(ref src, (i * features) + c);
        }

        for (var c = f8; c < features; c++)
        {
            for (var i = 0; i < b8; i++)
                Unsafe.Add(ref dst, (c * b) + i) = Unsafe.Add(ref src, (i * features) + c);
        }
    }

    /// <summary>The 8 × 8 block at <paramref name="src"/> (row stride <paramref name="ls"/>) transposed to <paramref name="dst"/> (row stride <paramref name="ld"/>); needs AVX.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Block8x8(ref float src, int ls, ref float dst, int ld)
    {
        var r0 = Vector256.LoadUnsafe(ref src);
        var r1 = Vector256.LoadUnsafe(ref src, (nuint)ls);
        var r2 = Vector256.LoadUnsafe(ref src, (nuint)(2 * ls));
        var r3 = Vector256.LoadUnsafe(ref src, (nuint)(3 * ls));
        var r4 = Vector256.LoadUnsafe(ref src, (nuint)(4 * ls));
        var r5 = Vector256.LoadUnsafe(ref src, (nuint)(5 * ls));
        var r6 = Vector256.LoadUnsafe(ref src, (nuint)(6 * ls));
        var r7 = Vector256.LoadUnsafe(ref src, (nuint)(7 * ls));
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
        Avx.Permute2x128(u0, u4, 0x20).StoreUnsafe(ref dst);
        Avx.Permute2x128(u1, u5, 0x20).StoreUnsafe(ref dst, (nuint)ld);
        Avx.Permute2x128(u2, u6, 0x20).StoreUnsafe(ref dst, (nuint)(2 * ld));
        Avx.Permute2x128(u3, u7, 0x20).StoreUnsafe(ref dst, (nuint)(3 * ld));
        Avx.Permute2x128(u0, u4, 0x31).StoreUnsafe(ref dst, (nuint)(4 * ld));
        Avx.Permute2x128(u1, u5, 0x31).StoreUnsafe(ref dst, (nuint)(5 * ld));
        Avx.Permute2x128(u2, u6, 0x31).StoreUnsafe(ref dst, (nuint)(6 * ld));
        Avx.Permute2x128(u3, u7, 0x31).StoreUnsafe(ref dst, (nuint)(7 * ld));
    }
}
