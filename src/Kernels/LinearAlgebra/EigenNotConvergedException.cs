namespace WoodFisher.Kernels;

/// <summary>The implicit QL iteration of <see cref="LinearAlgebra.SymmetricEigen(ReadOnlySpan{double}, int, Span{double}, Span{double})"/> did not converge.</summary>
/// <param name="index">Eigenvalue (of the tridiagonal form) still coupled.</param>
/// <param name="iterations">QL iterations spent on it.</param>
public sealed class EigenNotConvergedException(int index, int iterations)
    : ArithmeticException($"Symmetric eigensolver did not converge: eigenvalue {index} still coupled after {iterations} implicit QL iterations. Check the input for extreme dynamic range (entries near overflow or underflow).")
{
    /// <summary>Index, in the tridiagonal form, of the eigenvalue that did not converge.</summary>
    public int Index { get; } = index;

    /// <summary>QL iterations spent on it.</summary>
    public int Iterations { get; } = iterations;
}
