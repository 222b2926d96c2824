using System.Globalization;
using WoodFisher.Models;

namespace WoodFisher.Pruning.Tests;

/// <summary>
/// Documented measurement (docs/scale.md, "Model mode"), not run in CI: the bytes the autograd allocates per sample in one
/// batched forward and backward of per-sample gradients (activations, their gradients, the unfolded convolution inputs,
/// the tape), beside the gradient row itself (d × 4 bytes). Marginal bytes between chunks of 1 and of n samples, so the
/// per-chunk constant drops out. Run: <c>dotnet test tests/WoodFisher.Pruning.Tests -c Release --filter
/// "FullyQualifiedName~ActivationMemoryExplicitTests" --logger "console;verbosity=detailed"</c>.
/// </summary>
[Explicit("a documented measurement")]
[NonParallelizable]
public class ActivationMemoryExplicitTests
{
    [TestCase("resnet20:3x32x32", 32)]
    [TestCase("resnet20:1x28x28", 32)]
    [TestCase("lenet5", 32)]
    [TestCase("mlp:784-1000-10", 32)]
    public void AutogradBytesPerSample(string spec, int n)
    {
        var model = ModelFactory.Create(spec, seed: 1);
        var selection = ParameterSelection<float>.Prunable(model);
        var d = selection.Dimension;
        var inputs = model.InputShape.Aggregate(1, (a, b) => a * b);
        var rng = new Random(2);
        var x = Enumerable.Range(0, n * inputs).Select(_ => (float)rng.NextDouble()).ToArray();
        var y = Enumerable.Range(0, n).Select(_ => rng.Next(model.NumClasses)).ToArray();
        var rows = new float[(long)n * d];

        // Warmed up (compiled) on chunks of 2, so the tape's buffer pool holds no buffer of the sizes measured: every
        // buffer of a measured chunk is allocated, and all stay in use until its backward pass ends.
        PerSampleGradients.Compute(model, x, y, null, 2, selection, 1, rows, chunkSamples: 2);
        long Allocated(int count)
        {
            GC.Collect();
            var before = GC.GetTotalAllocatedBytes(true);
            PerSampleGradients.Compute(model, x, y, null, count, selection, 1, rows, chunkSamples: count);
            return GC.GetTotalAllocatedBytes(true) - before;
        }

        var one = Allocated(1);
        var many = Allocated(n);
        var perSample = (many - one) / (double)(n - 1);
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{spec}: d = {d:N0} (gradient row {d * 4 / 1048576.0:F2} MiB); autograd {perSample / 1048576.0:F2} MiB per sample ({perSample / (d * 4.0):F1}× the row), {one / 1048576.0:F2} MiB for a chunk of 1"));
        Assert.That(perSample, Is.GreaterThan(0));
    }
}
