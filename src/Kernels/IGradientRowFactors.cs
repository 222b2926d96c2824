namespace WoodFisher.Kernels;

/// <summary>
/// Gradient rows held as factors rather than as m × d entries. A Linear layer's per-sample gradient is the outer product
/// δₙaₙᵀ of the output gradient and the input, so m rows of a layer with in × out weights need m·(in + out) numbers
/// instead of m·in·out; a block of c coordinates is multiplied out only when it is needed, while it is in cache.
/// </summary>
public interface IGradientRowFactors
{
    /// <summary>Rows m.</summary>
    int Rows { get; }

    /// <summary>Coordinates per row, d.</summary>
    int Dimension { get; }

    /// <summary>Bytes the factors hold.</summary>
    long Bytes { get; }

    /// <summary>
    /// Writes coordinates [<paramref name="start"/>, start + <paramref name="count"/>) of rows [<paramref name="firstRow"/>,
    /// firstRow + <paramref name="rows"/>) into <paramref name="destination"/> (rows × count, row-major), each exactly the
    /// float32 value the materialised row holds. Safe to call from several threads at once.
    /// </summary>
    void Gather(int firstRow, int rows, long start, int count, Span<float> destination);
}
