using System.Diagnostics;
using WoodFisher.Kernels;

namespace WoodFisher.Bench;

/// <summary>Phase timings of one rank-k panel on one block (single core), for tuning.</summary>
internal static class RankKProfile
{
    public static void Run(int c, int k, int reps)
    {
        var rng = new Random(3);
        var f = new float[c * c];
        var g = new float[k * c];
        for (var i = 0; i < c; i++)
        {
            f[(i * c) + i] = 1;
        }

        for (var i = 0; i < g.Length; i++)
        {
            g[i] = (float)rng.NextDouble();
        }

        var u = new float[c * k];
        var w = new float[c * k];
        var s = new float[k * k];
        var t = new double[5];
        Array.Fill(t, double.MaxValue);
        for (var r = 0; r < reps; r++)
        {
            var sw = Stopwatch.StartNew();
            Array.Clear(u);
            Gemm.Multiply(k, c, c, 1f, StridedMatrix<float>.RowMajor(g, 0, c), StridedMatrix<float>.RowMajor(f, 0, c), u, 0, c);
            t[0] = Math.Min(t[0], sw.Elapsed.TotalMilliseconds);
            sw.Restart();
            Array.Clear(s);
            Gemm.Multiply(k, k, c, 1f, StridedMatrix<float>.RowMajor(g, 0, c), StridedMatrix<float>.Transposed(u, 0, c), s, 0, k);
            t[1] = Math.Min(t[1], sw.Elapsed.TotalMilliseconds);
            sw.Restart();
            Array.Clear(w);
            Gemm.Multiply(k, c, k, 1f, StridedMatrix<float>.RowMajor(s, 0, k), StridedMatrix<float>.RowMajor(u, 0, c), w, 0, c);
            t[2] = Math.Min(t[2], sw.Elapsed.TotalMilliseconds);
            sw.Restart();
            Gemm.Multiply(c, c, k, -1e-9f, StridedMatrix<float>.Transposed(w, 0, c), StridedMatrix<float>.RowMajor(w, 0, c), f, 0, c);
            t[3] = Math.Min(t[3], sw.Elapsed.TotalMilliseconds);
            sw.Restart();
            t[4] = Math.Min(t[4], sw.Elapsed.TotalMilliseconds);
        }

        Console.WriteLine($"c={c} k={k}: U {t[0]:F3} ms, S {t[1]:F3} ms, W {t[2]:F3} ms, SYRK {t[3]:F3} ms; nominal 4c²k = {4.0 * c * c * k / 1e6:F0} MFLOP");
    }
}

/// <summary>Backend call alone vs the whole builder, to see the builder's overhead.</summary>
internal static class BuilderOverheadProfile
{
    public static void Run(int c, int m, int d, int reps)
    {
        var rng = new Random(3);
        var g = new double[m * d];
        for (var i = 0; i < g.Length; i++)
        {
            g[i] = (rng.NextDouble() * 2) - 1;
        }

        var gf = g.Select(x => (float)x).ToArray();
        using var be = new CpuBackend();
        var layout = BlockLayout.Create(d, c);
        using var st = be.Allocate(layout, Precision.Float32);
        double tIdentity = double.MaxValue, tK = double.MaxValue, t1 = double.MaxValue, tB = double.MaxValue;
        for (var r = 0; r < reps; r++)
        {
            var sw = Stopwatch.StartNew();
            be.SetScaledIdentity(st, 1e3);
            tIdentity = Math.Min(tIdentity, sw.Elapsed.TotalMilliseconds);
            sw.Restart();
            be.RankKUpdate(st, g, m, m);
            tK = Math.Min(tK, sw.Elapsed.TotalMilliseconds);
            be.SetScaledIdentity(st, 1e3);
            sw.Restart();
            be.RankOneUpdates(st, g, m, m);
            t1 = Math.Min(t1, sw.Elapsed.TotalMilliseconds);
            sw.Restart();
            using (var b = new WoodFisherBuilder(d, new WoodFisherOptions { BlockSize = c, Damping = 1e-3, Strategy = WoodburyStrategy.RankK, Backend = BackendKind.Cpu }, m, be))
            {
                b.Add(gf, m);
                using var inv = b.Build();
            }

            tB = Math.Min(tB, sw.Elapsed.TotalMilliseconds);
        }

        Console.WriteLine($"c={c} m={m} d={d}: identity {tIdentity:F3} ms, backend rank-k {tK:F3} ms, backend rank-1 {t1:F3} ms, builder rank-k {tB:F3} ms");
    }
}

/// <summary>Dense strategy phases.</summary>
internal static class DenseProfile
{
    public static void Run(int c, int m, int d, int reps)
    {
        var rng = new Random(3);
        var gf = new float[m * d];
        for (var i = 0; i < gf.Length; i++)
        {
            gf[i] = (float)((rng.NextDouble() * 2) - 1);
        }

        var spd = new double[c * c];
        for (var i = 0; i < c; i++)
        {
            spd[(i * c) + i] = 2;
            for (var j = 0; j < i; j++)
            {
                spd[(i * c) + j] = spd[(j * c) + i] = 1.0 / (1 + i + j);
            }
        }

        using var be = new CpuBackend();
        double tB = double.MaxValue, tInv = double.MaxValue;
        for (var r = 0; r < reps; r++)
        {
            var a = (double[])spd.Clone();
            var sw = Stopwatch.StartNew();
            LinearAlgebra.TryCholeskyInvert<double>(a, c);
            tInv = Math.Min(tInv, sw.Elapsed.TotalMilliseconds);
            sw.Restart();
            using (var b = new WoodFisherBuilder(d, new WoodFisherOptions { BlockSize = c, Damping = 1e-3, Strategy = WoodburyStrategy.Dense, Backend = BackendKind.Cpu }, m, be))
            {
                b.Add(gf, m);
                using var inv = b.Build();
            }

            tB = Math.Min(tB, sw.Elapsed.TotalMilliseconds);
        }

        double tF = double.MaxValue, tL = double.MaxValue;
        for (var r = 0; r < reps; r++)
        {
            var a = (double[])spd.Clone();
            var sw = Stopwatch.StartNew();
            LinearAlgebra.TryCholeskyFactor<double>(a, c);
            tF = Math.Min(tF, sw.Elapsed.TotalMilliseconds);
            sw.Restart();
            LinearAlgebra.LowerTriangularInvert<double>(a, c);
            tL = Math.Min(tL, sw.Elapsed.TotalMilliseconds);
        }

        Console.WriteLine($"dense c={c}: factor {tF:F3} ms, triangular inverse {tL:F3} ms");
        Console.WriteLine($"dense c={c} m={m} d={d}: Cholesky inverse of one block {tInv:F3} ms, builder {tB:F3} ms");
    }
}

/// <summary>
/// The backend's rank-k update of one block (d = c) at % of the micro-kernel peak measured in the same run, on as many
/// cores as the process sees (set DOTNET_PROCESSOR_COUNT=1 for one core).
/// </summary>
internal static class RankKBlockProfile
{
    public static void Run(int c, int m, int reps)
    {
        var rng = new Random(3);
        var g = new double[m * c];
        for (var i = 0; i < g.Length; i++)
        {
            g[i] = (rng.NextDouble() * 2) - 1;
        }

        using var be = new CpuBackend();
        var layout = BlockLayout.Create(c, c);
        using var st = be.Allocate(layout, Precision.Float32);
        double best = double.MaxValue, bestContinued = double.MaxValue;
        for (var r = 0; r <= reps; r++)
        {
            // A fresh block (F = σI, as every build starts): the first panel needs no U = GₖF product.
            be.SetScaledIdentity(st, 1e3);
            var sw = Stopwatch.StartNew();
            be.RankKUpdate(st, g, m, 2 * m);
            var fresh = sw.Elapsed.TotalSeconds;

            // The same rows again on the updated block: every panel pays the full 3c²k + 2ck² + k³/3.
            sw.Restart();
            be.RankKUpdate(st, g, m, 2 * m);
            if (r > 0)
            {
                best = Math.Min(best, fresh);
                bestContinued = Math.Min(bestContinued, sw.Elapsed.TotalSeconds);
            }
        }

        var peak = KernelBenchmark.MeasurePeakGflops();
        var rate = 4.0 * c * c * m / best / 1e9;
        var rateContinued = 4.0 * c * c * m / bestContinued / 1e9;
        Console.WriteLine(
            $"cores={Environment.ProcessorCount} c={c} m={m}: fresh {best * 1e3:F2} ms, {rate:F1} GFLOP/s, {100 * rate / peak:F0}% of peak; "
            + $"continued {bestContinued * 1e3:F2} ms, {rateContinued:F1} GFLOP/s, {100 * rateContinued / peak:F0}% of peak (peak {peak:F1})");
    }
}
