using System.Diagnostics;
using System.Globalization;
using WoodFisher.Kernels;

namespace WoodFisher.Bench;

/// <summary>
/// <c>-- joint-cpu [c] [blocks] [sparsity] [rounds]</c>: the CPU backend's joint OBS update (<see cref="ICurvatureBackend.ObsUpdate"/>)
/// on float32 blocks shaped as the MLP prune's (666 blocks of c = 400 at 90% by default), in process CPU time per core
/// (best and median of the rounds). Each block holds the Kac–Murdock–Szegő matrix 0.5^|i−j| (SPD, condition number 9), so
/// the Cholesky of every [F⁻¹]_QQ succeeds without jitter; the mask is a seeded uniform draw.
/// </summary>
internal static class JointUpdateProfile
{
    public static void Run(string[] args)
    {
        var c = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 400;
        var blocks = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 666;
        var sparsity = args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 0.9;
        var rounds = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 7;
        var layout = BlockLayout.Create(c * blocks, c);
        using var backend = new CpuBackend();
        using var storage = backend.Allocate(layout, Precision.Float32);
        var all = new double[layout.SquareLength];
        for (var b = 0; b < blocks; b++)
        {
            for (var i = 0; i < c; i++)
            {
                for (var j = 0; j < c; j++)
                {
                    all[((long)b * c * c) + (i * c) + j] = Math.Pow(0.5, Math.Abs(i - j));
                }
            }
        }

        backend.Write(storage, all);
        var rng = new Random(11);
        var mask = new bool[layout.Dimension];
        for (var i = 0; i < mask.Length; i++)
        {
            mask[i] = rng.NextDouble() >= sparsity;
        }

        var w = new double[layout.Dimension];
        var times = new List<double>();
        for (var r = 0; r <= rounds; r++)
        {
            for (var i = 0; i < w.Length; i++)
            {
                w[i] = Math.Sin(i);
            }

            var t0 = CpuSeconds();
            backend.ObsUpdate(storage, w, mask);
            var t = CpuSeconds() - t0;
            if (r > 0)
            {
                times.Add(t);
            }
        }

        times.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"joint update, {blocks} blocks of c = {c}, {100 * sparsity:F0}% pruned: best {times[0]:F3} s, median {times[times.Count / 2]:F3} s CPU time per core ({Environment.ProcessorCount} cores, {rounds} rounds)"));
    }

    private static double CpuSeconds()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime.TotalSeconds / Environment.ProcessorCount;
    }
}
