using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace WoodFisher.Kernels;

/// <summary>
/// Row-major float32 matrices transposed by blocks in registers, the edges value by value: both the reads and the writes
/// are row segments, where an element-wise transpose strides through memory by whole rows. With AVX-512, 16 × 16 blocks
/// (sixteen 512-bit loads, 64 shuffles, sixteen stores: a quarter of a shuffle per value, where 8 × 8 blocks of 256 bits
/// take three eighths; shuffles bound the transpose when its source is in cache); with AVX, 8 × 8 blocks for what is
/// left (eight 256-bit loads, twenty-four shuffles, eight stores).
/// </summary>
public static class Transposition
{
    private const int Tile = 8;

    private const int WideTile = 16;

    /// <summary>
    /// Values (b·features) from which the transpose is split over the cores: a value read from beyond L2 and transposed takes
    /// about as long as 64 multiply-adds (64 × 784 images in about 25 µs inside the engine), so 2¹⁴ values are worth a wake-up.
    /// </summary>
    private const int MultiplyAddsPerValue = 64;

    /// <summary>
    /// The b × features matrix <paramref name="samples"/> (row-major) transposed into <paramref name="output"/> (features × b,
    /// row-major); a large one is split by samples over the cores, in pieces of 16 samples.
    /// </summary>
    /// <exception cref="ArgumentException">A span holds fewer than b·features values.</exception>
    public static unsafe void Transpose(ReadOnlySpan<float> samples, int b, int features, Span<float> output)
    {
        if ((long)b * features > samples.Length || (long)b * features > output.Length)
            throw new ArgumentException($"A {b} × {features} matrix does not fit spans of {samples.Length} and {output.Length} values.");
        if (b == 1 || features == 1)
        {
            samples[..(b * features)].CopyTo(output);
            return;
        }

        var work = (long)b * features * MultiplyAddsPerValue;
        if (Sparse.SparseParallel.Parts(work) <= 1)
        {
            // On the calling thread without the split's delegates, so that a small transpose (a batch's logits) allocates nothing.
            Block(ref MemoryMarshal.GetReference(samples), b, features, features, ref MemoryMarshal.GetReference(output), b);
            return;
        }

        // Split by samples: each piece reads whole consecutive rows of the source (one stream for the prefetcher, where a
        // split by features has every core read a segment of every row) and writes columns of the output in whole cache lines.
        var pieces = Math.Max(1, b / WideTile);
        fixed (float* s0 = samples, d0 = output)
        {
            var (src, dst) = ((nint)s0, (nint)d0);
            var job = new Sparse.SparseParallel.Job(pieces, p =>
            {
                var (i0, i1) = (b * p / pieces / WideTile * WideTile, p == pieces - 1 ? b : b * (p + 1) / pieces / WideTile * WideTile);
                Block(ref ((float*)src)[(nint)i0 * features], i1 - i0, features, features, ref ((float*)dst)[i0], b);
            });
            job.Run(Math.Min(Sparse.SparseParallel.Parts(work), pieces));
        }
    }

    /// <summary>The b × features matrix at <paramref name="samples"/> transposed to <paramref name="output"/> (features × b) on the calling thread.</summary>
    internal static unsafe void TransposeHere(float* samples, int b, int features, float* output) =>
        Block(ref *samples, b, features, features, ref *output, b);

    /// <summary>The rows × columns block at <paramref name="src"/> (row stride <paramref name="ls"/>) transposed to <paramref name="dst"/> (row stride <paramref name="ld"/>).</summary>
    private static void Block(ref float src, int rows, int columns, int ls, ref float dst, int ld)
    {
        var wide = Avx512F.IsSupported && Vector512.IsHardwareAccelerated;
        var r16 = wide ? rows / WideTile * WideTile : 0;
        var c16 = wide ? columns / WideTile * WideTile : 0;
        for (var c = 0; c < c16; c += WideTile)
        {
            for (var i = 0; i < r16; i += WideTile)
                Block16x16(ref Unsafe.Add(ref src, (i * ls) + c), ls, ref Unsafe.Add(ref dst, (c * ld) + i), ld);
        }

        // 8 × 8 blocks outside the 16 × 16 ones: the rows past them (all whole columns), then the columns past them.
        var r8 = Avx.IsSupported ? rows / Tile * Tile : 0;
        var c8 = Avx.IsSupported ? columns / Tile * Tile : 0;
        for (var c = 0; c < c8; c += Tile)
        {
            for (var i = c < c16 ? r16 : 0; i < r8; i += Tile)
                Block8x8(ref Unsafe.Add(ref src, (i * ls) + c), ls, ref Unsafe.Add(ref dst, (c * ld) + i), ld);
        }

        // The edges: rows past the last whole tile (all columns), and columns past it (the tiled rows).
        for (var i = r8; i < rows; i++)
        {
            for (var c = 0; c < columns; c++)
                Unsafe.Add(ref dst, (c * ld) + i) = Unsafe.Add(ref src, (i * ls) + c);
        }

        for (var c = c8; c < columns; c++)
        {
            for (var i = 0; i < r8; i++)
                Unsafe.Add(ref dst, (c * ld) + i) = Unsafe.Add(ref src, (i * ls) + c);
        }
    }

    /// <summary>The 16 × 16 block at <paramref name="src"/> (row stride <paramref name="ls"/>) transposed to <paramref name="dst"/> (row stride <paramref name="ld"/>); needs AVX-512F.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Block16x16(ref float src, int ls, ref float dst, int ld)
    {
        Quarters(ref src, ls, out var a0, out var a1, out var a2, out var a3);
        Quarters(ref Unsafe.Add(ref src, 4 * ls), ls, out var b0, out var b1, out var b2, out var b3);
        Quarters(ref Unsafe.Add(ref src, 8 * ls), ls, out var c0, out var c1, out var c2, out var c3);
        Quarters(ref Unsafe.Add(ref src, 12 * ls), ls, out var d0, out var d1, out var d2, out var d3);
        StoreColumns(a0, b0, c0, d0, ref dst, ld);
        StoreColumns(a1, b1, c1, d1, ref Unsafe.Add(ref dst, ld), ld);
        StoreColumns(a2, b2, c2, d2, ref Unsafe.Add(ref dst, 2 * ld), ld);
        StoreColumns(a3, b3, c3, d3, ref Unsafe.Add(ref dst, 3 * ld), ld);
    }

    /// <summary>
    /// Four rows of 16 loaded and transposed within each 128-bit lane: lane L of <paramref name="v0"/>…<paramref name="v3"/>
    /// holds the four rows' values in column 4L + m (m = 0…3).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Quarters(ref float src, int ls, out Vector512<float> v0, out Vector512<float> v1, out Vector512<float> v2, out Vector512<float> v3)
    {
        var r0 = Vector512.LoadUnsafe(ref src);
        var r1 = Vector512.LoadUnsafe(ref src, (nuint)ls);
        var r2 = Vector512.LoadUnsafe(ref src, (nuint)(2 * ls));
        var r3 = Vector512.LoadUnsafe(ref src, (nuint)(3 * ls));
        var t0 = Avx512F.UnpackLow(r0, r1).AsDouble();
        var t1 = Avx512F.UnpackHigh(r0, r1).AsDouble();
        var t2 = Avx512F.UnpackLow(r2, r3).AsDouble();
        var t3 = Avx512F.UnpackHigh(r2, r3).AsDouble();
        v0 = Avx512F.UnpackLow(t0, t2).AsSingle();
        v1 = Avx512F.UnpackHigh(t0, t2).AsSingle();
        v2 = Avx512F.UnpackLow(t1, t3).AsSingle();
        v3 = Avx512F.UnpackHigh(t1, t3).AsSingle();
    }

    /// <summary>
    /// From the lane-transposed quarters of rows 0–3, 4–7, 8–11 and 12–15 that hold column m of every lane, the output rows
    /// m, m + 4, m + 8 and m + 12 (<paramref name="dst"/> at row m): output row 4L + m is lane L of each quarter in turn.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreColumns(Vector512<float> q0, Vector512<float> q1, Vector512<float> q2, Vector512<float> q3, ref float dst, int ld)
    {
        var low01 = Avx512F.Shuffle4x128(q0, q1, 0x44);
        var high01 = Avx512F.Shuffle4x128(q0, q1, 0xEE);
        var low23 = Avx512F.Shuffle4x128(q2, q3, 0x44);
        var high23 = Avx512F.Shuffle4x128(q2, q3, 0xEE);
        Avx512F.Shuffle4x128(low01, low23, 0x88).StoreUnsafe(ref dst);
        Avx512F.Shuffle4x128(low01, low23, 0xDD).StoreUnsafe(ref dst, (nuint)(4 * ld));
        Avx512F.Shuffle4x128(high01, high23, 0x88).StoreUnsafe(ref dst, (nuint)(8 * ld));
        Avx512F.Shuffle4x128(high01, high23, 0xDD).StoreUnsafe(ref dst, (nuint)(12 * ld));
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
