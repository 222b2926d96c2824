namespace WoodFisher.Kernels;

/// <summary>A symmetric matrix given to a Cholesky routine is not (numerically) positive definite.</summary>
public sealed class MatrixNotPositiveDefiniteException : ArithmeticException
{
    /// <summary>Creates the exception for the pivot <paramref name="pivot"/> that was not positive.</summary>
    public MatrixNotPositiveDefiniteException(int pivot, double value)
        : base($"Matrix is not positive definite: Cholesky pivot {pivot} is {value:G6}. Increase the damping, use float64, or check the input for linear dependence.")
    {
        Pivot = pivot;
        PivotValue = value;
    }

    /// <summary>Row of the failing pivot.</summary>
    public int Pivot { get; }

    /// <summary>Value of the failing pivot (≤ 0 or NaN).</summary>
    public double PivotValue { get; }
}

/// <summary>
/// A block of F̂⁻¹ (or of F̂) lost positive definiteness while it was built or used: a Sherman–Morrison denominator
/// N + gᵀF⁻¹g ≤ 0, a failed Cholesky factorization, or a NaN. Usually float32 rounding with a tiny damping λ.
/// </summary>
public sealed class BlockNotPositiveDefiniteException : ArithmeticException
{
    /// <summary>Creates the exception for block <paramref name="block"/>.</summary>
    public BlockNotPositiveDefiniteException(int block, string detail)
        : base($"Block {block} is not positive definite ({detail}). Increase the damping λ, use Precision.Float64, or use the Dense strategy.")
    {
        Block = block;
    }

    /// <summary>Index of the failing block in the <see cref="BlockLayout"/>.</summary>
    public int Block { get; }
}

/// <summary>A gradient entry is NaN or infinite.</summary>
public sealed class NonFiniteGradientException : ArgumentException
{
    /// <summary>Creates the exception for the entry at (<paramref name="row"/>, <paramref name="column"/>).</summary>
    public NonFiniteGradientException(long row, int column, double value)
        : base($"Gradient row {row}, column {column} is {value} (not finite). Check the loss for overflow or divide-by-zero before building the inverse.")
    {
        Row = row;
        Column = column;
        Value = value;
    }

    /// <summary>The entry's value (NaN or ±∞).</summary>
    public double Value { get; }

    /// <summary>Row of the bad entry, counted over all rows added to the builder (before mini-batch averaging).</summary>
    public long Row { get; }

    /// <summary>Column (coordinate) of the bad entry.</summary>
    public int Column { get; }
}
