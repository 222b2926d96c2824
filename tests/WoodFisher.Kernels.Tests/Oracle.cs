using WoodFisher.Kernels;

namespace WoodFisher.Kernels.Tests;

/// <summary>The simple, slow, obviously correct float64 reference: form λI + GᵀG/N per block and invert by Gauss–Jordan.</summary>
internal static class Oracle
{
    /// <summary>
    /// Applies one rank-k update of <paramref name="rows"/> gradients to a fresh σI storage and to the same σI written
    /// through <see cref="ICurvatureBackend.Write"/> (which forgets that it is a scaled identity, so the backend takes its
    /// general product), and returns both results (all blocks).
    /// </summary>
    public static (double[] Fresh, double[] Written) FreshAndWrittenRankK(
        ICurvatureBackend backend, BlockLayout layout, Precision precision, double sigma, double[] g, int rows)
    {
        using var fresh = backend.Allocate(layout, precision);
        using var written = backend.Allocate(layout, precision);
        backend.SetScaledIdentity(fresh, sigma);
        backend.SetScaledIdentity(written, sigma);
        var blocks = new double[layout.SquareLength];
        backend.Read(written, blocks);
        backend.Write(written, blocks);
        backend.RankKUpdate(fresh, g, rows, rows);
        backend.RankKUpdate(written, g, rows, rows);
        var a = new double[layout.SquareLength];
        var b = new double[layout.SquareLength];
        backend.Read(fresh, a);
        backend.Read(written, b);
        return (a, b);
    }

    public static double[] RandomGradients(int seed, int rows, int d, double scale = 1.0)
    {
        var rng = new Random(seed);
        var g = new double[rows * d];
        for (var i = 0; i < g.Length; i++)
        {
            g[i] = scale * ((rng.NextDouble() * 2) - 1);
        }

        return g;
    }

    /// <summary>Columns scaled over four decades and rows nearly collinear: κ(F̂) of about 10⁶ with λ = 10⁻⁴.</summary>
    public static double[] IllConditionedGradients(int seed, int rows, int d)
    {
        var rng = new Random(seed);
        var basis = RandomGradients(seed + 1000, 1, d);
        var g = new double[rows * d];
        for (var r = 0; r < rows; r++)
        {
            for (var j = 0; j < d; j++)
            {
                var colScale = Math.Pow(10, -2.0 * j / d);
                g[(r * d) + j] = colScale * (basis[j] + (0.05 * ((rng.NextDouble() * 2) - 1)));
            }
        }

        return g;
    }

    /// <summary>Block b of F̂ = λI + GᵀG/N (c_b × c_b row-major).</summary>
    public static double[] Fisher(double[] g, int rows, int d, BlockLayout layout, int b, double lambda, double n)
    {
        var c = layout.Size(b);
        var off = layout.Offset(b);
        var f = new double[c * c];
        for (var i = 0; i < c; i++)
        {
            for (var j = 0; j < c; j++)
            {
                var s = 0.0;
                for (var r = 0; r < rows; r++)
                {
                    s += g[(r * d) + off + i] * g[(r * d) + off + j];
                }

                f[(i * c) + j] = (s / n) + (i == j ? lambda : 0);
            }
        }

        return f;
    }

    public static double[] Inverse(double[] a, int n)
    {
        var m = (double[])a.Clone();
        var inv = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            inv[(i * n) + i] = 1;
        }

        for (var col = 0; col < n; col++)
        {
            var piv = col;
            for (var r = col + 1; r < n; r++)
            {
                if (Math.Abs(m[(r * n) + col]) > Math.Abs(m[(piv * n) + col]))
                {
                    piv = r;
                }
            }

            for (var j = 0; j < n; j++)
            {
                (m[(col * n) + j], m[(piv * n) + j]) = (m[(piv * n) + j], m[(col * n) + j]);
                (inv[(col * n) + j], inv[(piv * n) + j]) = (inv[(piv * n) + j], inv[(col * n) + j]);
            }

            var p = m[(col * n) + col];
            for (var j = 0; j < n; j++)
            {
                m[(col * n) + j] /= p;
                inv[(col * n) + j] /= p;
            }

            for (var r = 0; r < n; r++)
            {
                if (r == col)
                {
                    continue;
                }

                var f = m[(r * n) + col];
                for (var j = 0; j < n; j++)
                {
                    m[(r * n) + j] -= f * m[(col * n) + j];
                    inv[(r * n) + j] -= f * inv[(col * n) + j];
                }
            }
        }

        return inv;
    }

    /// <summary>Solves A x = b by Gaussian elimination with partial pivoting.</summary>
    public static double[] Solve(double[] a, int n, double[] b)
    {
        var inv = Inverse(a, n);
        var x = new double[n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                x[i] += inv[(i * n) + j] * b[j];
            }
        }

        return x;
    }

    public static double[][] BlockInverses(double[] g, int rows, int d, BlockLayout layout, double lambda, double n)
    {
        var res = new double[layout.Count][];
        for (var b = 0; b < layout.Count; b++)
        {
            res[b] = Inverse(Fisher(g, rows, d, layout, b, lambda, n), layout.Size(b));
        }

        return res;
    }

    /// <summary>Unit roundoff of float64, 2⁻⁵³.</summary>
    public const double U64 = 1.1102230246251565e-16;

    /// <summary>Unit roundoff of float32, 2⁻²⁴.</summary>
    public const double U32 = 5.9604644775390625e-8;

    /// <summary>‖A‖₁ of the n × n row-major A: the largest column sum of |a_ij|.</summary>
    public static double Norm1(double[] a, int n)
    {
        var best = 0.0;
        for (var j = 0; j < n; j++)
        {
            var s = 0.0;
            for (var i = 0; i < n; i++)
            {
                s += Math.Abs(a[(i * n) + j]);
            }

            best = Math.Max(best, s);
        }

        return best;
    }

    /// <summary>max |a − b| / max |b|.</summary>
    public static double RelativeError(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double num = 0, den = 0;
        for (var i = 0; i < a.Length; i++)
        {
            num = Math.Max(num, Math.Abs(a[i] - b[i]));
            den = Math.Max(den, Math.Abs(b[i]));
        }

        return num / den;
    }

    public static double MaxBlockError(WoodFisherInverse inv, double[][] oracle)
    {
        var e = 0.0;
        for (var b = 0; b < oracle.Length; b++)
        {
            e = Math.Max(e, RelativeError(inv.Block(b), oracle[b]));
        }

        return e;
    }
}
