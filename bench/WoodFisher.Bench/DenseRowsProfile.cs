using System.Globalization;
using WoodFisher.Kernels;
using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Bench;

/// <summary>
/// <c>-- dense-rows [c] [r …]</c>: the float32 Dense strategy's inverse of one block of c coordinates (default 400) from r
/// kept rows, in process CPU time (best of 7 rounds; run with <c>DOTNET_PROCESSOR_COUNT=1</c>). Rows up to
/// <see cref="DenseStrategy.FewRowsMax"/> take the Woodbury form, more the Gram and the Cholesky inverse, so r = c/2
/// against c/2 + 1 compares the two forms on the same work.
/// </summary>
internal static class DenseRowsProfile
{
    public static void Run(string[] args)
    {
        var c = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 400;
        var counts = args.Length > 1 ? args[1..].Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray() : [32, 64, 128, c / 2, (c / 2) + 1, c];
        var layout = BlockLayout.Create(c, c);
        using var backend = new CpuBackend();
        foreach (var r in counts)
        {
            var g = new float[r * c];
            var rng = new Random(r);
            for (var i = 0; i < g.Length; i++)
            {
                g[i] = (float)((rng.NextDouble() * 2) - 1);
            }

            var form = r <= DenseStrategy.FewRowsMax(c) ? "Woodbury" : "Gram + Cholesky inverse";
            var t = CpuTimeProfiles.BestCpuSeconds(
                () =>
                {
                    var dense = new DenseStrategy(layout, Precision.Float32, r);
                    dense.Accumulate<float>(g, r);
                    dense.Finish(backend, 1e-5, 1000).Dispose();
                },
                7);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"c={c} r={r}: {form} {t * 1e3:F3} ms CPU"));
        }
    }
}
