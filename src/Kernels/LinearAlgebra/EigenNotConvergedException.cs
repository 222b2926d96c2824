namespace WoodFisher.Kernels;

/// <summary>The implicit QL iteration of <see cref="LinearAlgebra.SymmetricEigen(ReadOnlySpan{double}, int, Span{double}, Span{double})"/> did not converge.</summary>
public sealed class EigenNotConvergedException : ArithmeticException
{
    /// <summary>Creates the exception for eigenvalue <paramref name="index"/> (of the tridiagonal form) after <paramref name="iterations"/> QL iterations.</summary>
    public EigenNotConvergedException(int index, int iterations)
        : base($"Symmetric eigensolver did not converge: eigenvalue {index} still coupled after {iterations} implicit QL iterations. Check the input for extreme dynamic range (entries near overflow or underflow).")
    {
        Index = index;
        Iterations = iterations;
    }

    /// <summary>Index, in the tridiagonal form, of the eigenvalue that did not converge.</summary>
    public int Index { get; }

    /// <summary>QL iterations spent on it.</summary>
    public int Iterations { get; }
}
