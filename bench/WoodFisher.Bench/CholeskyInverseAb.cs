using System.Diagnostics;
using System.Globalization;

namespace WoodFisher.Bench;

/// <summary>
/// <c>-- cholinv-ab c rounds f|d DIR…</c>: the public <c>LinearAlgebra.TryCholeskyInvert</c> of each DIR's
/// WoodFisher.Kernels.dll (two builds, e.g. a baseline and a change), each loaded in its own context, timed in turns
/// within one process: round r times every build once (CPU time of enough inversions of one SPD c × c matrix to take
/// about 0.3·10⁹/c³ of them), so that load on a shared machine falls on all of them alike. Prints the best, lower quartile
/// and median per build over the rounds after the first three, and the ratio of each build's to the first's. Run with
/// <c>DOTNET_PROCESSOR_COUNT=1</c> for one core.
/// </summary>
internal static class CholeskyInverseAb
{
    private delegate bool Invert32(Span<float> a, int n);

    private delegate bool Invert64(Span<double> a, int n);

    public static void Run(string[] args)
    {
        var n = int.Parse(args[0], CultureInfo.InvariantCulture);
        var rounds = int.Parse(args[1], CultureInfo.InvariantCulture);
        var dbl = args[2] == "d";
        var dirs = args[3..];
        var spd = CholeskyInverseProfile.Spd(n);
        Array source = dbl ? spd : Array.ConvertAll(spd, v => (float)v);
        Array work = dbl ? new double[n * n] : new float[n * n];
        var inverts = dirs.Select(d => Load(d, dbl, n)).ToArray();
        var inner = Math.Max(1, (int)(3e8 / ((double)n * n * n)));
        var times = dirs.Select(_ => new List<double>()).ToArray();
        using var process = Process.GetCurrentProcess();
        for (var r = 0; r < rounds; r++)
        {
            for (var v = 0; v < dirs.Length; v++)
            {
                process.Refresh();
                var t0 = process.TotalProcessorTime;
                for (var q = 0; q < inner; q++)
                {
                    Array.Copy(source, work, source.Length);
                    if (!inverts[v](work))
                    {
                        throw new InvalidOperationException($"{dirs[v]}: the inverse failed.");
                    }
                }

                process.Refresh();
                times[v].Add((process.TotalProcessorTime - t0).TotalSeconds / inner);
            }
        }

        var first = times[0].Skip(3).Order().ToList();
        for (var v = 0; v < dirs.Length; v++)
        {
            var t = times[v].Skip(3).Order().ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"c={n} {(dbl ? "float64" : "float32")} {dirs[v]}: best {t[0] * 1e3:F3} ms, lower quartile {t[t.Count / 4] * 1e3:F3} ms, median {t[t.Count / 2] * 1e3:F3} ms ({(double)n * n * n / t[0] / 1e9:F1} GFLOP/s, n³ counted); best, quartile, median over the first build's {t[0] / first[0]:F3}, {t[t.Count / 4] / first[first.Count / 4]:F3}, {t[t.Count / 2] / first[first.Count / 2]:F3}"));
        }
    }

    private static Func<Array, bool> Load(string dir, bool dbl, int n)
    {
        var context = new BuildContext(dir);
        var type = context.LoadFromAssemblyPath(Path.GetFullPath(Path.Combine(dir, "WoodFisher.Kernels.dll"))).GetType("WoodFisher.Kernels.LinearAlgebra", throwOnError: true)!;
        var span = dbl ? typeof(Span<double>) : typeof(Span<float>);
        var method = type.GetMethods().First(m => m.Name == "TryCholeskyInvert" && !m.IsGenericMethod && m.GetParameters()[0].ParameterType == span);
        if (dbl)
        {
            var f = method.CreateDelegate<Invert64>();
            return a => f((double[])a, n);
        }

        var g = method.CreateDelegate<Invert32>();
        return a => g((float[])a, n);
    }
}
