using System.Diagnostics;
using WoodFisher.IO;

namespace WoodFisher.Cli.Tests;

/// <summary>Random gradients, a float64 dense-inverse oracle and a NumPy runner for the fisher/ihvp/bench tests.</summary>
internal static class FisherTestSupport
{
    public const string Python = "/usr/bin/python3";

    /// <summary>m × d gradients, entries uniform in [−1, 1) (seeded).</summary>
    public static double[] RandomGradients(int m, int d, int seed)
    {
        var rng = new Random(seed);
        var g = new double[m * d];
        for (int i = 0; i < g.Length; i++)
            g[i] = (rng.NextDouble() * 2) - 1;
        return g;
    }

    /// <summary>(λI + Σₙ g_b g_bᵀ / N)⁻¹ for the columns [off, off + c) of G (m × d), by Gauss–Jordan with partial pivoting.</summary>
    public static double[] DenseBlockInverse(double[] g, int m, int d, int off, int c, double lambda, double normalizer)
    {
        var a = new double[c, 2 * c];
        for (int i = 0; i < c; i++)
        {
            for (int j = 0; j < c; j++)
            {
                double s = 0;
                for (int r = 0; r < m; r++)
                    s += g[(r * d) + off + i] * g[(r * d) + off + j];
                a[i, j] = (s / normalizer) + (i == j ? lambda : 0);
            }
            a[i, c + i] = 1;
        }
        for (int k = 0; k < c; k++)
        {
            int p = k;
            for (int i = k + 1; i < c; i++)
            {
                if (Math.Abs(a[i, k]) > Math.Abs(a[p, k]))
                    p = i;
            }
            for (int j = 0; j < 2 * c; j++)
                (a[k, j], a[p, j]) = (a[p, j], a[k, j]);
            double pivot = a[k, k];
            for (int j = 0; j < 2 * c; j++)
                a[k, j] /= pivot;
            for (int i = 0; i < c; i++)
            {
                if (i == k)
                    continue;
                double f = a[i, k];
                for (int j = 0; j < 2 * c; j++)
                    a[i, j] -= f * a[k, j];
            }
        }
        var inv = new double[c * c];
        for (int i = 0; i < c; i++)
        {
            for (int j = 0; j < c; j++)
                inv[(i * c) + j] = a[i, c + j];
        }
        return inv;
    }

    /// <summary>Rows averaged in consecutive groups of <paramref name="batch"/> (a trailing partial group over its own rows).</summary>
    public static (double[] G, int Rows) MiniBatchAverage(double[] g, int m, int d, int batch)
    {
        int rows = (m + batch - 1) / batch;
        var avg = new double[rows * d];
        for (int b = 0; b < rows; b++)
        {
            int n = Math.Min(batch, m - (b * batch));
            for (int r = 0; r < n; r++)
            {
                for (int j = 0; j < d; j++)
                    avg[(b * d) + j] += g[(((b * batch) + r) * d) + j] / n;
            }
        }
        return (avg, rows);
    }

    /// <summary>Runs a Python snippet with /usr/bin/python3 and NumPy (ignoring the test when either is missing); returns stdout.</summary>
    public static string RunNumPy(string code, params string[] args)
    {
        if (!File.Exists(Python))
            Assert.Ignore($"{Python} not found: the NumPy oracle cannot run");
        var (probe, _, _) = Exec(["-c", "import numpy"]);
        if (probe != 0)
            Assert.Ignore($"{Python} has no NumPy: the NumPy oracle cannot run");
        var (rc, stdout, stderr) = Exec(["-c", code, .. args]);
        Assert.That(rc, Is.Zero, $"python failed: {stderr}");
        return stdout;
    }

    private static (int Code, string Out, string Err) Exec(string[] args)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output, err.Result);
    }

    /// <summary>Writes G (m × d) as float64 or float32 .npy.</summary>
    public static void WriteGradients(string path, double[] g, int m, int d, bool float32)
    {
        if (float32)
            Npy.Write(path, Array.ConvertAll(g, x => (float)x), m, d);
        else
            Npy.Write(path, g, m, d);
    }
}
