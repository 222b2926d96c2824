namespace WoodFisher.Pruning.Internal;

/// <summary>
/// Small dense float64 routines (row-major). Private to Pruning until the public
/// WoodFisher.Kernels.LinearAlgebra lands; the integrator should dedupe against it.
/// </summary>
internal static class DenseLinearAlgebra
{
    /// <summary>In-place Cholesky A = LLᵀ (lower triangle holds L, upper is zeroed). False when A is not positive definite.</summary>
    public static bool TryCholesky(Span<double> a, int n)
    {
        for (var j = 0; j < n; j++)
        {
            var s = a[(j * n) + j];
            for (var k = 0; k < j; k++)
            {
                s -= a[(j * n) + k] * a[(j * n) + k];
            }

            if (!(s > 0) || !double.IsFinite(s))
            {
                return false;
            }

            var ljj = Math.Sqrt(s);
            a[(j * n) + j] = ljj;
            for (var i = j + 1; i < n; i++)
            {
                var t = a[(i * n) + j];
                for (var k = 0; k < j; k++)
                {
                    t -= a[(i * n) + k] * a[(j * n) + k];
                }

                a[(i * n) + j] = t / ljj;
            }

            for (var i = 0; i < j; i++)
            {
                a[(i * n) + j] = 0;
            }
        }

        return true;
    }

    /// <summary>Solves LLᵀx = b in place for one right-hand side, given the Cholesky factor L.</summary>
    public static void CholeskySolve(ReadOnlySpan<double> l, int n, Span<double> b)
    {
        for (var i = 0; i < n; i++)
        {
            var s = b[i];
            for (var k = 0; k < i; k++)
            {
                s -= l[(i * n) + k] * b[k];
            }

            b[i] = s / l[(i * n) + i];
        }

        for (var i = n - 1; i >= 0; i--)
        {
            var s = b[i];
            for (var k = i + 1; k < n; k++)
            {
                s -= l[(k * n) + i] * b[k];
            }

            b[i] = s / l[(i * n) + i];
        }
    }

    /// <summary>Inverse of a symmetric positive definite matrix, or null when Cholesky fails.</summary>
    public static double[]? TryInverseSpd(ReadOnlySpan<double> a, int n)
    {
        var l = a.ToArray();
        if (!TryCholesky(l, n))
        {
            return null;
        }

        var inv = new double[n * n];
        var col = new double[n];
        for (var j = 0; j < n; j++)
        {
            Array.Clear(col);
            col[j] = 1;
            CholeskySolve(l, n, col);
            for (var i = 0; i < n; i++)
            {
                inv[(i * n) + j] = col[i];
            }
        }

        Symmetrize(inv, n);
        return inv;
    }

    /// <summary>
    /// Solves Ax = b for a general square A by Gaussian elimination with partial pivoting (A and b are copied).
    /// Throws when A is singular to working precision.
    /// </summary>
    public static double[] Solve(ReadOnlySpan<double> a, int n, ReadOnlySpan<double> b)
    {
        var m = a.ToArray();
        var x = b.ToArray();
        for (var k = 0; k < n; k++)
        {
            var p = k;
            var best = Math.Abs(m[(k * n) + k]);
            for (var i = k + 1; i < n; i++)
            {
                var v = Math.Abs(m[(i * n) + k]);
                if (v > best)
                {
                    best = v;
                    p = i;
                }
            }

            if (best == 0 || !double.IsFinite(best))
            {
                throw new InvalidOperationException($"Matrix is singular (pivot {k} of {n} is zero).");
            }

            if (p != k)
            {
                for (var j = 0; j < n; j++)
                {
                    (m[(k * n) + j], m[(p * n) + j]) = (m[(p * n) + j], m[(k * n) + j]);
                }

                (x[k], x[p]) = (x[p], x[k]);
            }

            var piv = m[(k * n) + k];
            for (var i = k + 1; i < n; i++)
            {
                var f = m[(i * n) + k] / piv;
                if (f == 0)
                {
                    continue;
                }

                for (var j = k; j < n; j++)
                {
                    m[(i * n) + j] -= f * m[(k * n) + j];
                }

                x[i] -= f * x[k];
            }
        }

        for (var i = n - 1; i >= 0; i--)
        {
            var s = x[i];
            for (var j = i + 1; j < n; j++)
            {
                s -= m[(i * n) + j] * x[j];
            }

            x[i] = s / m[(i * n) + i];
        }

        return x;
    }

    /// <summary>Solves the symmetric system Ax = b: Cholesky when A is positive definite, pivoted elimination otherwise.</summary>
    public static double[] SolveSymmetric(ReadOnlySpan<double> a, int n, ReadOnlySpan<double> b)
    {
        var l = a.ToArray();
        if (TryCholesky(l, n))
        {
            var x = b.ToArray();
            CholeskySolve(l, n, x);
            return x;
        }

        return Solve(a, n, b);
    }

    /// <summary>
    /// Cyclic Jacobi eigen-decomposition of a symmetric matrix: A = V diag(λ) Vᵀ, eigenvectors in the columns of V
    /// (row-major n × n). O(n³) per sweep; meant for small n (exact-Hessian studies, per-block inverses).
    /// </summary>
    public static (double[] Values, double[] Vectors) SymmetricEigen(ReadOnlySpan<double> a, int n)
    {
        var m = a.ToArray();
        Symmetrize(m, n);
        var v = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            v[(i * n) + i] = 1;
        }

        double scale = 0;
        for (var i = 0; i < m.Length; i++)
        {
            scale = Math.Max(scale, Math.Abs(m[i]));
        }

        for (var sweep = 0; sweep < 100; sweep++)
        {
            double off = 0;
            for (var p = 0; p < n; p++)
            {
                for (var q = p + 1; q < n; q++)
                {
                    off += m[(p * n) + q] * m[(p * n) + q];
                }
            }

            if (off <= 1e-30 * scale * scale * n * n || off == 0)
            {
                break;
            }

            for (var p = 0; p < n - 1; p++)
            {
                for (var q = p + 1; q < n; q++)
                {
                    var apq = m[(p * n) + q];
                    if (apq == 0)
                    {
                        continue;
                    }

                    var app = m[(p * n) + p];
                    var aqq = m[(q * n) + q];
                    var theta = (aqq - app) / (2 * apq);
                    var t = Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt((theta * theta) + 1));
                    if (theta == 0)
                    {
                        t = 1;
                    }

                    var c = 1 / Math.Sqrt((t * t) + 1);
                    var s = t * c;
                    for (var k = 0; k < n; k++)
                    {
                        var mkp = m[(k * n) + p];
                        var mkq = m[(k * n) + q];
                        m[(k * n) + p] = (c * mkp) - (s * mkq);
                        m[(k * n) + q] = (s * mkp) + (c * mkq);
                    }

                    for (var k = 0; k < n; k++)
                    {
                        var mpk = m[(p * n) + k];
                        var mqk = m[(q * n) + k];
                        m[(p * n) + k] = (c * mpk) - (s * mqk);
                        m[(q * n) + k] = (s * mpk) + (c * mqk);
                    }

                    for (var k = 0; k < n; k++)
                    {
                        var vkp = v[(k * n) + p];
                        var vkq = v[(k * n) + q];
                        v[(k * n) + p] = (c * vkp) - (s * vkq);
                        v[(k * n) + q] = (s * vkp) + (c * vkq);
                    }
                }
            }
        }

        var values = new double[n];
        for (var i = 0; i < n; i++)
        {
            values[i] = m[(i * n) + i];
        }

        return (values, v);
    }

    /// <summary>V diag(f) Vᵀ for eigenvectors in the columns of V.</summary>
    public static double[] Reconstruct(ReadOnlySpan<double> vectors, ReadOnlySpan<double> factors, int n)
    {
        var r = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var j = i; j < n; j++)
            {
                double s = 0;
                for (var k = 0; k < n; k++)
                {
                    s += vectors[(i * n) + k] * factors[k] * vectors[(j * n) + k];
                }

                r[(i * n) + j] = s;
                r[(j * n) + i] = s;
            }
        }

        return r;
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
