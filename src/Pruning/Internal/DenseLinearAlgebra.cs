using WoodFisher.Kernels;

namespace WoodFisher.Pruning.Internal;

/// <summary>
/// Dense float64 helpers Pruning needs beyond <see cref="WoodFisher.Kernels.LinearAlgebra"/> (row-major n × n):
/// symmetrization and the symmetric solve policy (Cholesky, pivoted LU when not positive definite).
/// </summary>
internal static class DenseLinearAlgebra
{
    /// <summary>
    /// Solves the symmetric system Ax = b (A and b are copied): Cholesky when A is positive definite, Gaussian elimination
    /// with partial pivoting otherwise. Throws <see cref="InvalidOperationException"/> when A is singular to working precision.
    /// </summary>
    public static double[] SolveSymmetric(ReadOnlySpan<double> a, int n, ReadOnlySpan<double> b)
    {
        var m = a.ToArray();
        var x = b.ToArray();
        if (LinearAlgebra.TryCholeskyFactor(m, n))
        {
            LinearAlgebra.CholeskySolve(m, n, x);
            return x;
        }

        a.CopyTo(m);
        b.CopyTo(x);
        return LinearAlgebra.TrySolveLu(m, n, x)
            ? x
            : throw new InvalidOperationException($"The {n} × {n} system is singular to working precision.");
    }

    /// <summary>Replaces A by (A + Aᵀ)/2.</summary>
    public static void Symmetrize(Span<double> a, int n)
    {
        for (var i = 0; i < n; i++)
        {
            for (var j = i + 1; j < n; j++)
            {
                var s = 0.5 * (a[(i * n) + j] + a[(j * n) + i]);
                a[(i * n) + j] = s;
                a[(j * n) + i] = s;
            }
        }
    }
}
