namespace WoodFisher.Tests.Shared;

/// <summary>Symmetric matrices with a chosen spectrum, for the eigen and curvature oracles of more than one test project.</summary>
internal static class SpectralMatrices
{
    /// <summary>A random orthogonal matrix (Gram–Schmidt on random columns), row-major, orthonormal columns.</summary>
    public static double[] RandomOrthogonal(Random rng, int n)
    {
        var q = new double[n * n];
        for (var i = 0; i < q.Length; i++)
        {
            q[i] = (2 * rng.NextDouble()) - 1;
        }

        for (var j = 0; j < n; j++)
        {
            for (var p = 0; p < j; p++)
            {
                double dot = 0;
                for (var i = 0; i < n; i++)
                {
                    dot += q[(i * n) + j] * q[(i * n) + p];
                }

                for (var i = 0; i < n; i++)
                {
                    q[(i * n) + j] -= dot * q[(i * n) + p];
                }
            }

            double norm = 0;
            for (var i = 0; i < n; i++)
            {
                norm += q[(i * n) + j] * q[(i * n) + j];
            }

            norm = Math.Sqrt(norm);
            for (var i = 0; i < n; i++)
            {
                q[(i * n) + j] /= norm;
            }
        }

        return q;
    }

    /// <summary>Q diag(μ) Qᵀ.</summary>
    public static double[] FromSpectrum(double[] q, double[] mu)
    {
        var n = mu.Length;
        var a = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                double s = 0;
                for (var k = 0; k < n; k++)
                {
                    s += q[(i * n) + k] * mu[k] * q[(j * n) + k];
                }

                a[(i * n) + j] = s;
            }
        }

        return a;
    }
}
