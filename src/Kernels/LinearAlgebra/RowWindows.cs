using System.Numerics;

namespace WoodFisher.Kernels;

/// <summary>
/// A matrix whose rows are windows of one buffer: row i is <c>Data[Offsets[i] .. Offsets[i] + Length)</c>. Windows may
/// overlap, so the unfolded patches of a convolution (im2col) are a <see cref="RowWindows{T}"/> of the padded input with one
/// offset per kernel tap, and products with it need no unfolded copy.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public readonly ref struct RowWindows<T>
    where T : unmanaged
{
    /// <summary>Wraps <paramref name="data"/> as <paramref name="offsets"/>.Length rows of <paramref name="length"/> elements.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A window does not lie inside <paramref name="data"/>.</exception>
    public RowWindows(ReadOnlySpan<T> data, ReadOnlySpan<int> offsets, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        for (var i = 0; i < offsets.Length; i++)
        {
            if (offsets[i] < 0 || (long)offsets[i] + length > data.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(offsets), $"Window {i} at offset {offsets[i]} of length {length} does not lie inside the {data.Length} elements.");
            }
        }

        Data = data;
        Offsets = offsets;
        Length = length;
    }

    /// <summary>The buffer the windows lie in.</summary>
    public ReadOnlySpan<T> Data { get; }

    /// <summary>Where each row starts in <see cref="Data"/>.</summary>
    public ReadOnlySpan<int> Offsets { get; }

    /// <summary>Elements per row (the column count).</summary>
    public int Length { get; }

    /// <summary>Rows.</summary>
    public int Count => Offsets.Length;
}

public static partial class LinearAlgebra
{
    /// <summary>
    /// C = α·A·B + β·C with B the k × n matrix of windows <paramref name="b"/> (k = b.Count, n = b.Length), A m × k (row
    /// stride <paramref name="lda"/>), C m × n (row stride <paramref name="ldc"/>, not overlapping A or B): a convolution as
    /// one product (weights times the windows of the padded input). Whole register tiles read B's rows in place.
    /// </summary>
    public static void Multiply<T>(int m, T alpha, ReadOnlySpan<T> a, int lda, RowWindows<T> b, T beta, Span<T> c, int ldc, bool parallel = true)
        where T : unmanaged, IFloatingPointIeee754<T>
        => MultiplyWindows(false, m, alpha, a, lda, b, beta, c, ldc, parallel);

    /// <summary>
    /// C = α·A·Bᵀ + β·C with B the n × k matrix of windows <paramref name="b"/> (n = b.Count, k = b.Length), A m × k (row
    /// stride <paramref name="lda"/>), C m × n (row stride <paramref name="ldc"/>, not overlapping A or B): a convolution's
    /// weight gradient as one product (output gradients times the windows of the padded input). For small C and long k:
    /// dot products held in registers, neither operand packed.
    /// </summary>
    public static void MultiplyTransposed<T>(int m, T alpha, ReadOnlySpan<T> a, int lda, RowWindows<T> b, T beta, Span<T> c, int ldc, bool parallel = true)
        where T : unmanaged, IFloatingPointIeee754<T>
        => MultiplyWindows(true, m, alpha, a, lda, b, beta, c, ldc, parallel);

    private static unsafe void MultiplyWindows<T>(bool transposed, int m, T alpha, ReadOnlySpan<T> a, int lda, RowWindows<T> b, T beta, Span<T> c, int ldc, bool parallel)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = transposed ? b.Count : b.Length, k = transposed ? b.Length : b.Count;
        if (!Prepare(false, m, n, k, alpha, a.Length, lda, beta, c, ldc))
        {
            return;
        }

        fixed (T* pa = a, pb = b.Data, pc = c)
        fixed (int* po = b.Offsets)
        {
            var pam = PinnedMatrix<T>.RowMajor(pa, lda, false);
            var pbm = PinnedMatrix<T>.Windows(pb, po);
            if (transposed)
            {
                GemmDot.Multiply(m, n, k, alpha, pam, pbm, pc, ldc, parallel);
            }
            else
            {
                Gemm.Multiply(m, n, k, alpha, pam, pbm, pc, ldc, false, parallel);
            }
        }
    }
}
