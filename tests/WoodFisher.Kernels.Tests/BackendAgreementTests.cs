using WoodFisher.Kernels;

namespace WoodFisher.Kernels.Tests;

/// <summary>
/// The two backends must agree with each other through the public builder and every query. ILGPU runs on its CPU
/// accelerator here (a CUDA/OpenCL device when the machine has one).
/// </summary>
[TestFixture]
[NonParallelizable]
public class BackendAgreementTests
{
    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (var s in new[] { WoodburyStrategy.Rank1, WoodburyStrategy.RankK, WoodburyStrategy.Dense })
        {
            foreach (var p in new[] { Precision.Float32, Precision.Float64 })
            {
                yield return new TestCaseData(s, p).SetName($"IlgpuAndCpu_Agree_{s}_{p}");
            }
        }
    }

    // Both backends apply the same exact recurrence in a different order of operations, so they differ by rounding
    // only: float64 ~1e-12 relative; float32 with κ ≈ 1e2 (λ = 1e-2) keeps ~5 digits, so 1e-4 of max |F̂⁻¹|.
    [TestCaseSource(nameof(Cases))]
    public void IlgpuAndCpu_Agree(WoodburyStrategy strategy, Precision precision)
    {
        const int d = 90, m = 40;
        int[] segments = [50, 40];
        var g = Oracle.RandomGradients(11, m, d);
        var cpuOptions = new WoodFisherOptions { BlockSize = 32, Damping = 1e-2, Segments = segments, Strategy = strategy, Precision = precision, Backend = BackendKind.Cpu };
        using var cpu = WoodFisherBuilder.Compute(g, m, d, cpuOptions);
        using var gpu = WoodFisherBuilder.Compute(g, m, d, cpuOptions with { Backend = BackendKind.Ilgpu });
        Assert.That(gpu.BackendName, Does.StartWith("ilgpu"));

        var scale = cpu.Diagonal().Max();
        var tol = (precision == Precision.Float64 ? 1e-10 : 1e-4) * scale;
        var rng = new Random(5);
        var v = Enumerable.Range(0, 3 * d).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var rc = new double[3 * d];
        var rg = new double[3 * d];
        cpu.Multiply(v, rc, 3);
        gpu.Multiply(v, rg, 3);

        var w1 = Enumerable.Range(0, d).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var w2 = (double[])w1.Clone();
        var remove = Enumerable.Range(0, d).Select(i => i % 3 == 0).ToArray();
        var mask = remove.Select(r => !r).ToArray();
        cpu.ObsUpdate(w1, mask);
        gpu.ObsUpdate(w2, mask);

        Assert.Multiple(() =>
        {
            for (var b = 0; b < cpu.Layout.Count; b++)
            {
                Assert.That(gpu.Block(b), Is.EqualTo(cpu.Block(b)).Within(tol), $"block {b}");
            }

            Assert.That(gpu.Diagonal(), Is.EqualTo(cpu.Diagonal()).Within(tol));
            Assert.That(rg, Is.EqualTo(rc).Within(tol * 10));
            Assert.That(w2, Is.EqualTo(w1).Within(precision == Precision.Float64 ? 1e-8 : 2e-2));
            Assert.That(remove.Select((r, i) => r ? w2[i] : 0.0), Is.All.EqualTo(0.0));
        });
    }
}
