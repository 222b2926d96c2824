using System.Diagnostics;

namespace WoodFisher.Kernels.Tests;

/// <summary>Independent eigen references for the eigen fixtures: cyclic Jacobi in-process, NumPy's eigh out of process.</summary>
internal static class EigenReferences
{
    /// <summary>Cyclic Jacobi rotations: slow (O(n³) per sweep) and obviously correct; eigenvectors in the columns.</summary>
    internal static (double[] Values, double[] Vectors) Jacobi(double[] a, int n)
    {
        var m = (double[])a.Clone();
        var v = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            v[(i * n) + i] = 1;
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

            if (off < 1e-30)
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

                    var theta = (m[(q * n) + q] - m[(p * n) + p]) / (2 * apq);
                    var t = theta == 0 ? 1 : Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt((theta * theta) + 1));
                    var c = 1 / Math.Sqrt((t * t) + 1);
                    var s = t * c;
                    for (var k = 0; k < n; k++)
                    {
                        (m[(k * n) + p], m[(k * n) + q]) = ((c * m[(k * n) + p]) - (s * m[(k * n) + q]), (s * m[(k * n) + p]) + (c * m[(k * n) + q]));
                    }

                    for (var k = 0; k < n; k++)
                    {
                        (m[(p * n) + k], m[(q * n) + k]) = ((c * m[(p * n) + k]) - (s * m[(q * n) + k]), (s * m[(p * n) + k]) + (c * m[(q * n) + k]));
                    }

                    for (var k = 0; k < n; k++)
                    {
                        (v[(k * n) + p], v[(k * n) + q]) = ((c * v[(k * n) + p]) - (s * v[(k * n) + q]), (s * v[(k * n) + p]) + (c * v[(k * n) + q]));
                    }
                }
            }
        }

        return (Enumerable.Range(0, n).Select(i => m[(i * n) + i]).ToArray(), v);
    }

    /// <summary>Runs a NumPy script with (input, output) paths; false when python3 or NumPy is missing.</summary>
    internal static bool RunPython(string script, string input, string output)
    {
        const string python = "/usr/bin/python3";
        if (!File.Exists(python))
        {
            return false;
        }

        var psi = new ProcessStartInfo(python) { RedirectStandardError = true, RedirectStandardOutput = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        psi.ArgumentList.Add(input);
        psi.ArgumentList.Add(output);
        using var proc = Process.Start(psi)!;
        var err = proc.StandardError.ReadToEnd();
        proc.WaitForExit();
        if (proc.ExitCode != 0 && err.Contains("No module named 'numpy'", StringComparison.Ordinal))
        {
            return false;
        }

        Assert.That(proc.ExitCode, Is.EqualTo(0), err);
        return true;
    }
}
