namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// A float32 weight matrix W (<see cref="Rows"/> × <see cref="Columns"/>) in one storage format, with the two products an
/// inference layer needs: y = Wx + b (batch 1) and C = WB + b1ᵀ (a batch laid out feature-major, or the im2col matrix of a
/// convolution). One implementation per <see cref="WeightFormat"/>; callers never branch on which one they hold. Every
/// implementation computes the same sums as the dense product over W's non-zeros, in float32; results agree with the dense
/// product to float32 rounding (the order of the additions differs).
/// </summary>
public interface IWeightMatrix
{
    /// <summary>Output features (rows of W).</summary>
    int Rows { get; }

    /// <summary>Input features (columns of W).</summary>
    int Columns { get; }

    /// <summary>The storage format.</summary>
    WeightFormat Format { get; }

    /// <summary>Values stored, explicit zeros of a format's padding included.</summary>
    long StoredValues { get; }

    /// <summary>Bytes of the arrays that hold the matrix (values, indices and pointers), as written to a compressed model file.</summary>
    long StoredBytes { get; }

    /// <summary>
    /// y = Wx + b, then max(y, 0) when <paramref name="relu"/>: <paramref name="x"/> has <see cref="Columns"/> entries,
    /// <paramref name="y"/> and <paramref name="bias"/> (or empty for none) <see cref="Rows"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A span has the wrong length.</exception>
    void MultiplyVector(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> bias = default, bool relu = false);

    /// <summary>
    /// C = WB + b1ᵀ: <paramref name="b"/> is <see cref="Columns"/> × <paramref name="n"/> and <paramref name="c"/> is
    /// <see cref="Rows"/> × <paramref name="n"/>, both row-major; <paramref name="bias"/> has <see cref="Rows"/> entries or is
    /// empty; then max(C, 0) when <paramref name="relu"/>, each part by the core that computed it. 2·nnz·n flops, spread over
    /// the cores when the product is large enough to pay for it.
    /// </summary>
    /// <exception cref="ArgumentException">A span has the wrong length or n &lt; 1.</exception>
    void Multiply(ReadOnlySpan<float> b, int n, Span<float> c, ReadOnlySpan<float> bias = default, bool relu = false);

    /// <summary>W as a row-major dense array (zeros where nothing is stored).</summary>
    float[] ToDense();
}
