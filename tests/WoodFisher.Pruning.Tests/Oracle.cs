using WoodFisher.Models;

namespace WoodFisher.Pruning.Tests;

/// <summary>Slow, obviously-correct float64 references (Gauss–Jordan, explicit loops), independent of the library's routines.</summary>
internal static class Oracle
{
    public static double[] RandomVector(Random rng, int n, double scale = 1)
    {
        var v = new double[n];
        for (var i = 0; i < n; i++)
        {
            v[i] = scale * ((2 * rng.NextDouble()) - 1);
        }

        return v;
    }

    /// <summary>A symmetric positive definite matrix BBᵀ/n + shift·I.</summary>
    public static double[] RandomSpd(Random rng, int n, double shift = 0.5)
    {
        var b = RandomVector(rng, n * n);
        var a = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                double s = 0;
                for (var k = 0; k < n; k++)
                {
                    s += b[(i * n) + k] * b[(j * n) + k];
                }

                a[(i * n) + j] = (s / n) + (i == j ? shift : 0);
            }
        }

        return a;
    }

    /// <summary>Gauss–Jordan inverse with full row pivoting.</summary>
    public static double[] Inverse(double[] a, int n)
    {
        var m = (double[])a.Clone();
        var inv = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            inv[(i * n) + i] = 1;
        }

        for (var c = 0; c < n; c++)
        {
            var p = c;
            for (var r = c + 1; r < n; r++)
            {
                if (Math.Abs(m[(r * n) + c]) > Math.Abs(m[(p * n) + c]))
                {
                    p = r;
                }
            }

            for (var j = 0; j < n; j++)
            {
                (m[(c * n) + j], m[(p * n) + j]) = (m[(p * n) + j], m[(c * n) + j]);
                (inv[(c * n) + j], inv[(p * n) + j]) = (inv[(p * n) + j], inv[(c * n) + j]);
            }

            var piv = m[(c * n) + c];
            for (var j = 0; j < n; j++)
            {
                m[(c * n) + j] /= piv;
                inv[(c * n) + j] /= piv;
            }

            for (var r = 0; r < n; r++)
            {
                if (r == c)
                {
                    continue;
                }

                var f = m[(r * n) + c];
                for (var j = 0; j < n; j++)
                {
                    m[(r * n) + j] -= f * m[(c * n) + j];
                    inv[(r * n) + j] -= f * inv[(c * n) + j];
                }
            }
        }

        return inv;
    }

    public static double[] Solve(double[] a, int n, double[] b) => MatVec(Inverse(a, n), n, b);

    public static double[] MatVec(double[] a, int n, double[] v)
    {
        var r = new double[n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                r[i] += a[(i * n) + j] * v[j];
            }
        }

        return r;
    }

    public static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (var i = 0; i < a.Length; i++)
        {
            s += a[i] * b[i];
        }

        return s;
    }

    /// <summary>½(w − w*)ᵀH(w − w*).</summary>
    public static double Quadratic(double[] h, double[] w, double[] wStar)
    {
        var n = w.Length;
        var r = new double[n];
        for (var i = 0; i < n; i++)
        {
            r[i] = w[i] - wStar[i];
        }

        return 0.5 * Dot(r, MatVec(h, n, r));
    }

    /// <summary>
    /// Solves min_δ gᵀδ + ½δᵀHδ subject to δ_q = −w_q for q ∈ Q through the KKT system
    /// [H E_Q; E_Qᵀ 0][δ; μ] = [−g; −w_Q], by a dense solve.
    /// </summary>
    public static double[] ConstrainedStep(double[] h, int n, double[] g, double[] w, int[] q)
    {
        var k = q.Length;
        var m = n + k;
        var kkt = new double[m * m];
        var rhs = new double[m];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                kkt[(i * m) + j] = h[(i * n) + j];
            }

            rhs[i] = -g[i];
        }

        for (var c = 0; c < k; c++)
        {
            kkt[(q[c] * m) + n + c] = 1;
            kkt[((n + c) * m) + q[c]] = 1;
            rhs[n + c] = -w[q[c]];
        }

        var sol = Solve(kkt, m, rhs);
        return sol[..n];
    }

    /// <summary>δw = −H⁻¹E_Q([H⁻¹]_QQ)⁻¹w_Q from the dense inverse, then w_Q = 0.</summary>
    public static double[] JointUpdate(double[] hinv, int d, double[] w, int[] q)
    {
        var k = q.Length;
        var sub = new double[k * k];
        for (var a = 0; a < k; a++)
        {
            for (var b = 0; b < k; b++)
            {
                sub[(a * k) + b] = hinv[(q[a] * d) + q[b]];
            }
        }

        var alpha = Solve(sub, k, [.. q.Select(i => w[i])]);
        var result = (double[])w.Clone();
        for (var i = 0; i < d; i++)
        {
            for (var a = 0; a < k; a++)
            {
                result[i] -= hinv[(i * d) + q[a]] * alpha[a];
            }
        }

        foreach (var i in q)
        {
            result[i] = 0;
        }

        return result;
    }

    /// <summary>Block-diagonal part of a dense matrix for the given blocks (offset, size).</summary>
    public static double[] BlockDiagonal(double[] a, int n, IEnumerable<(int Offset, int Size)> blocks)
    {
        var r = new double[n * n];
        foreach (var (off, c) in blocks)
        {
            for (var i = off; i < off + c; i++)
            {
                for (var j = off; j < off + c; j++)
                {
                    r[(i * n) + j] = a[(i * n) + j];
                }
            }
        }

        return r;
    }

    /// <summary>A mask of length n (true = kept) that prunes the given indices.</summary>
    public static bool[] Mask(int n, IEnumerable<int> pruned)
    {
        var f = Enumerable.Repeat(true, n).ToArray();
        foreach (var i in pruned)
        {
            f[i] = false;
        }

        return f;
    }

    public static double MaxAbsDiff(double[] a, double[] b)
    {
        Assert.That(a, Has.Length.EqualTo(b.Length));
        double m = 0;
        for (var i = 0; i < a.Length; i++)
        {
            m = Math.Max(m, Math.Abs(a[i] - b[i]));
        }

        return m;
    }
}

/// <summary>An in-memory gradient source (rows × d, row-major).</summary>
internal sealed class ArrayGradientSource(float[] rows, int dimension, IReadOnlyList<int>? segments = null) : IGradientSource
{
    private int _next;

    public int Dimension => dimension;

    public long Count => rows.Length / dimension;

    public IReadOnlyList<int> Segments => segments ?? [dimension];

    public int Read(Span<float> buffer, int maxRows)
    {
        var n = (int)Math.Min(maxRows, Count - _next);
        rows.AsSpan(_next * dimension, n * dimension).CopyTo(buffer);
        _next += n;
        return n;
    }

    public void Reset() => _next = 0;
}
