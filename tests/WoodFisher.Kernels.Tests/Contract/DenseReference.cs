using WoodFisher.Kernels;

namespace WoodFisher.Kernels.Tests.Contract;

/// <summary>Slow, obviously-correct float64 references for the backend contract tests.</summary>
internal static class DenseReference
{
    public static double[] Gaussian(int seed, int length, double scale = 1.0)
    {
        var rng = new Random(seed);
        var x = new double[length];
        for (var i = 0; i < length; i++)
        {
            // Box–Muller keeps the values reproducible from the seed alone.
            var u1 = 1.0 - rng.NextDouble();
            var u2 = rng.NextDouble();
            x[i] = scale * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
        }

        return x;
    }

    /// <summary>Block b of (λI + GᵀG/N)⁻¹, inverted by Gauss–Jordan (c_b × c_b, row-major).</summary>
    public static double[] DampedFisherInverseBlock(BlockLayout layout, int block, double damping, double[] gradients, int rows, double normalizer)
    {
        var c = layout.Size(block);
        var off = layout.Offset(block);
        var d = layout.Dimension;
        var f = new double[c * c];
        for (var i = 0; i < c; i++)
        {
            f[(i * c) + i] = damping;
        }

        for (var r = 0; r < rows; r++)
        {
            for (var i = 0; i < c; i++)
            {
                for (var j = 0; j < c; j++)
                {
                    f[(i * c) + j] += gradients[(r * d) + off + i] * gradients[(r * d) + off + j] / normalizer;
                }
            }
        }

        return Invert(f, c);
    }

    /// <summary>Gauss–Jordan inverse with partial pivoting of an n × n row-major matrix.</summary>
    public static double[] Invert(double[] matrix, int n)
    {
        var a = (double[])matrix.Clone();
        var inv = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            inv[(i * n) + i] = 1.0;
        }

        for (var col = 0; col < n; col++)
        {
            var pivot = col;
            for (var r = col + 1; r < n; r++)
            {
                if (Math.Abs(a[(r * n) + col]) > Math.Abs(a[(pivot * n) + col]))
                {
                    pivot = r;
                }
            }

            for (var j = 0; j < n; j++)
            {
                (a[(col * n) + j], a[(pivot * n) + j]) = (a[(pivot * n) + j], a[(col * n) + j]);
                (inv[(col * n) + j], inv[(pivot * n) + j]) = (inv[(pivot * n) + j], inv[(col * n) + j]);
            }

            var p = a[(col * n) + col];
            for (var j = 0; j < n; j++)
            {
                a[(col * n) + j] /= p;
                inv[(col * n) + j] /= p;
            }

            for (var r = 0; r < n; r++)
            {
                if (r == col)
                {
                    continue;
                }

                var factor = a[(r * n) + col];
                for (var j = 0; j < n; j++)
                {
                    a[(r * n) + j] -= factor * a[(col * n) + j];
                    inv[(r * n) + j] -= factor * inv[(col * n) + j];
                }
            }
        }

        return inv;
    }

    /// <summary>All blocks of (λI + GᵀG/N)⁻¹ concatenated as <see cref="IBlockStorage"/> stores them.</summary>
    public static double[] DampedFisherInverse(BlockLayout layout, double damping, double[] gradients, int rows, double normalizer)
    {
        var all = new double[layout.SquareLength];
        for (var b = 0; b < layout.Count; b++)
        {
            DampedFisherInverseBlock(layout, b, damping, gradients, rows, normalizer).CopyTo(all, layout.SquareOffset(b));
        }

        return all;
    }

    /// <summary>
    /// The minimiser of ½δᵀFδ subject to (w + δ)_Q = 0 in one block, δ = −F⁻¹E_Q([F⁻¹]_QQ)⁻¹w_Q, from the block
    /// inverse <paramref name="inverse"/> (c × c) by an explicit inverse of the |Q| × |Q| sub-matrix.
    /// </summary>
    public static double[] ConstrainedStep(double[] inverse, int c, double[] w, int[] q)
    {
        var n = q.Length;
        var sub = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                sub[(i * n) + j] = inverse[(q[i] * c) + q[j]];
            }
        }

        var subInv = Invert(sub, n);
        var alpha = new double[n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                alpha[i] += subInv[(i * n) + j] * w[q[j]];
            }
        }

        var delta = new double[c];
        for (var i = 0; i < c; i++)
        {
            for (var j = 0; j < n; j++)
            {
                delta[i] -= inverse[(i * c) + q[j]] * alpha[j];
            }
        }

        return delta;
    }

    public static double MaxAbs(ReadOnlySpan<double> x)
    {
        var m = 0.0;
        foreach (var v in x)
        {
            m = Math.Max(m, Math.Abs(v));
        }

        return m;
    }

    public static double MaxAbsDifference(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        var m = 0.0;
        for (var i = 0; i < x.Length; i++)
        {
            m = Math.Max(m, Math.Abs(x[i] - y[i]));
        }

        return m;
    }
}
