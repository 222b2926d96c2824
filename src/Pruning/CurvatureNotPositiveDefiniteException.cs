namespace WoodFisher.Pruning;

/// <summary>A curvature block stayed indefinite or singular after damping, so it cannot be inverted as asked.</summary>
public sealed class CurvatureNotPositiveDefiniteException : Exception
{
    /// <summary>Creates the exception for block <paramref name="block"/>.</summary>
    public CurvatureNotPositiveDefiniteException(int block, double minEigenvalue, double damping)
        : base($"Curvature block {block} is not positive definite after damping: min eigenvalue {minEigenvalue:g6} + λ = {minEigenvalue + damping:g6} ≤ 0. " +
               $"Increase the damping λ above {Math.Max(0, -minEigenvalue):g6}, or treat the negative eigenvalues with IndefiniteTreatment.Clip or IndefiniteTreatment.Absolute (both need λ > 0).")
    {
        Block = block;
        MinEigenvalue = minEigenvalue;
        Damping = damping;
    }

    /// <summary>Creates the exception with a message.</summary>
    public CurvatureNotPositiveDefiniteException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public CurvatureNotPositiveDefiniteException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    public CurvatureNotPositiveDefiniteException()
    {
    }

    /// <summary>Index of the failing block in the layout.</summary>
    public int Block { get; }

    /// <summary>Smallest eigenvalue of the undamped block.</summary>
    public double MinEigenvalue { get; }

    /// <summary>The damping λ that was not enough.</summary>
    public double Damping { get; }
}
