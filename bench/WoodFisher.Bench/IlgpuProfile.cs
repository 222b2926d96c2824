using System.Diagnostics;
using System.Globalization;
using ILGPU.Runtime;
using WoodFisher.Kernels;
using WoodFisher.Kernels.Ilgpu;

namespace WoodFisher.Bench;

/// <summary>
/// <c>ilgpu-profile c:m:d …</c>: the ILGPU rank-k build on the first CUDA/OpenCL device (else ILGPU's CPU accelerator),
/// per cell the whole update as <c>woodfisher bench</c> times it (best of 3), then the same update with a phase clock
/// (each phase synchronised; best of 3 per phase), and the host-to-device copy rate from pageable and page-locked memory.
/// </summary>
internal static class IlgpuProfile
{
    public static void Run(string[] args)
    {
        var inv = CultureInfo.InvariantCulture;
        using var backend = new IlgpuBackend(preferDevice: true);
        Console.WriteLine($"{backend.Name}: {backend.Accelerator.Name}");
        foreach (var cell in args.Length > 0 ? args : ["512:1024:65536", "2000:400:256000"])
        {
            var p = cell.Split(':').Select(x => int.Parse(x, inv)).ToArray();
            var (c, m, d) = (p[0], p[1], p[2]);
            var g = new float[(long)m * d];
            var rng = new Random(5);
            for (var i = 0; i < g.Length; i++)
            {
                g[i] = (float)(rng.NextDouble() - 0.5);
            }

            Copies(backend.Accelerator, g.AsSpan(0, (int)Math.Min(g.Length, 1L << 25)));
            var layout = BlockLayout.Create(d, c);
            Build(backend, layout, g, m);
            var whole = double.MaxValue;
            var phases = Enumerable.Repeat(double.MaxValue, IlgpuPhaseClock.Names.Length).ToArray();
            for (var r = 0; r < 3; r++)
            {
                whole = Math.Min(whole, Build(backend, layout, g, m));
                var clock = new IlgpuPhaseClock();
                backend.Clock = clock;
                Build(backend, layout, g, m);
                backend.Clock = null;
                for (var i = 0; i < phases.Length; i++)
                {
                    phases[i] = Math.Min(phases[i], clock.Seconds[i]);
                }
            }

            var flops = 4.0 * c * c * m * layout.Count;
            var parts = string.Join(", ", IlgpuPhaseClock.Names.Select((n, i) => string.Create(inv, $"{n} {phases[i] * 1e3:F1}")));
            Console.WriteLine(string.Create(inv, $"c={c} m={m} d={d}: whole {whole * 1e3:F1} ms ({flops / whole / 1e9:F0} GFLOP/s); clocked ms: {parts}"));
        }
    }

    // One rank-k build from σI, as the bench times it (allocation, identity, update, diagonal check).
    private static double Build(IlgpuBackend backend, BlockLayout layout, float[] g, int m)
    {
        var sw = Stopwatch.StartNew();
        using var storage = backend.Allocate(layout, Precision.Float32);
        backend.SetScaledIdentity(storage, 1e3);
        backend.RankKUpdate(storage, g, m, m);
        return sw.Elapsed.TotalSeconds;
    }

    private static void Copies(Accelerator accelerator, ReadOnlySpan<float> data)
    {
        using var target = accelerator.Allocate1D<float>(data.Length);
        using var pinned = accelerator.AllocatePageLocked1D<float>(data.Length);
        data.CopyTo(pinned.Span);
        var bytes = data.Length * 4.0;
        var pageable = double.MaxValue;
        var locked = double.MaxValue;
        var staged = double.MaxValue;
        var array = data.ToArray();
        for (var r = 0; r < 3; r++)
        {
            var sw = Stopwatch.StartNew();
            target.View.CopyFromCPU(array);
            accelerator.Synchronize();
            pageable = Math.Min(pageable, sw.Elapsed.TotalSeconds);
            sw.Restart();
            target.View.CopyFromPageLockedAsync(accelerator.DefaultStream, pinned);
            accelerator.Synchronize();
            locked = Math.Min(locked, sw.Elapsed.TotalSeconds);
            sw.Restart();
            data.CopyTo(pinned.Span);
            staged = Math.Min(staged, sw.Elapsed.TotalSeconds);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"host to device, {bytes / 1e6:F0} MB: pageable {bytes / pageable / 1e9:F1} GB/s, page-locked {bytes / locked / 1e9:F1} GB/s, host copy into page-locked {bytes / staged / 1e9:F1} GB/s"));
    }
}
