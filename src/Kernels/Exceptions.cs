namespace WoodFisher.Kernels;

/// <summary>A symmetric matrix given to a Cholesky routine is not (numerically) positive definite.</summary>
/// <param name="pivot">Row of the pivot that was not positive.</param>
/// <param name="value">That pivot's value.</param>
public sealed class MatrixNotPositiveDefiniteException(int pivot, double value)
    : ArithmeticException($"Matrix is not positive definite: Cholesky pivot {pivot} is {value:G6}. Increase the damping, use float64, or check the input for linear dependence.")
{
    /// <summary>Row of the failing pivot.</summary>
    public int Pivot { get; } = pivot;

    /// <summary>Value of the failing pivot (≤ 0 or NaN).</summary>
    public double PivotValue { get; } = value;
}

/// <summary>
/// A block of F̂⁻¹ (or of F̂) lost positive definiteness while it was built or used: a Sherman–Morrison denominator
/// N + gᵀF⁻¹g ≤ 0, a failed Cholesky factorization, or a NaN. Usually float32 rounding with a tiny damping λ.
/// </summary>
/// <param name="block">Index of the failing block.</param>
/// <param name="detail">What failed, for the message.</param>
public sealed class BlockNotPositiveDefiniteException(int block, string detail)
    : ArithmeticException($"Block {block} is not positive definite ({detail}). Increase the damping λ, use Precision.Float64, or use the Dense strategy.")
{
    /// <summary>Index of the failing block in the <see cref="BlockLayout"/>.</summary>
    public int Block { get; } = block;
}

/// <summary>A gradient entry is NaN or infinite.</summary>
/// <param name="row">Row of the entry.</param>
/// <param name="column">Column of the entry.</param>
/// <param name="value">The entry.</param>
public sealed class NonFiniteGradientException(long row, int column, double value)
    : ArgumentException($"Gradient row {row}, column {column} is {value} (not finite). Check the loss for overflow or divide-by-zero before building the inverse.")
{
    /// <summary>The entry's value (NaN or ±∞).</summary>
    public double Value { get; } = value;

    /// <summary>Row of the bad entry, counted over all rows added to the builder (before mini-batch averaging).</summary>
    public long Row { get; } = row;

    /// <summary>Column (coordinate) of the bad entry.</summary>
    public int Column { get; } = column;
}
