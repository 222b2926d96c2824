using WoodFisher.Kernels;
using WoodFisher.Models;
using WoodFisher.Pruning.Methods;

namespace WoodFisher.Pruning.Tests;

// Model-mode WoodFisher takes a per-sample source's Linear-layer rows as factors (the Dense strategy multiplies each block
// out when it forms the block's Gram) and never holds m × d rows. The oracle is the same rows materialised
// (GradientMatrix, which has no factor form): the inverse must be the same bits, masked (the Fisher of surviving
// weights) or not, and the plan must say what it holds.
public class FactoredGradientsTests
{
    private static (PerSampleGradientSource Source, GradientMatrix Rows) Make(int inputs = 30, int hidden = 20)
    {
        var model = ModelFactory.Create($"mlp:{inputs}-{hidden}-10", seed: 4);
        var rng = new Random(5);
        var x = new float[60 * inputs];
        for (var i = 0; i < x.Length; i++)
            x[i] = (float)(rng.NextDouble() * 2 - 1);
        var y = Enumerable.Range(0, 60).Select(i => i % 10).ToArray();
        var source = new PerSampleGradientSource(model, x, y, 50, ParameterSelection<float>.Prunable(model, includeBiases: true));
        var rows = GradientMatrix.Read(source);
        source.Reset();
        return (source, rows);
    }

    /// <summary>The per-sample source and its rows materialised, both masked (every third coordinate pruned) or not.</summary>
    private static (IGradientSource Factored, IGradientSource Plain) Sources(bool masked)
    {
        var (source, rows) = Make();
        var mask = Enumerable.Range(0, source.Dimension).Select(i => i % 3 != 0).ToArray();
        return masked ? (new MaskedGradientSource(source, mask), new MaskedGradientSource(rows, mask)) : (source, rows);
    }

    private static WoodFisherOptions Options(IGradientSource s) =>
        new() { BlockSize = 64, Damping = 1e-3, Strategy = WoodburyStrategy.Dense, Precision = Precision.Float32, Segments = s.Segments, Backend = BackendKind.Cpu };

    [TestCase(false)]
    [TestCase(true)]
    public void FactoredSource_BuildsTheInverseOfItsRows_BitForBit(bool masked)
    {
        var (factored, plain) = Sources(masked);
        Assert.That(((IFactoredGradientSource)factored).Factors(), Is.Not.Null);
        using var expected = WoodFisherCurvature.FromGradients(plain, Options(plain));
        using var actual = WoodFisherCurvature.FromGradients(new TimedGradientSource(factored), Options(factored));
        Assert.That(actual.Inverse.SampleCount, Is.EqualTo(50));
        for (var b = 0; b < expected.Inverse.Layout.Count; b++)
        {
            Assert.That(actual.Inverse.Block(b), Is.EqualTo(expected.Inverse.Block(b)), $"block {b}");
        }
    }

    // The statistics of the diagonal Fisher and WoodTaylor's mean gradient, from factors by windows over the cores, against
    // the same rows streamed (the oracle: a float64 sum per coordinate in row order): the same bits. A ReLU switches off
    // units for some samples here, so some windows leave rows out.
    [TestCase(false)]
    [TestCase(true)]
    public void FactoredSource_GivesTheStatisticsOfItsRows_BitForBit(bool masked)
    {
        var (factored, plain) = Sources(masked);
        var expected = GradientStatistics.Compute(plain);
        var actual = GradientStatistics.Compute(factored);
        var scalar = new double[plain.Dimension];
        var g = new float[plain.Dimension];
        plain.Reset();
        while (plain.Read(g, 1) == 1)
        {
            for (var i = 0; i < g.Length; i++)
                scalar[i] += (double)g[i] * g[i];
        }

        Assert.Multiple(() =>
        {
            Assert.That(actual.Rows, Is.EqualTo(50));
            Assert.That(actual.Mean, Is.EqualTo(expected.Mean));
            Assert.That(actual.SumOfSquares, Is.EqualTo(expected.SumOfSquares));
            Assert.That(expected.SumOfSquares, Is.EqualTo(scalar), "the vectorised sum is the scalar one");
            Assert.That(expected.SumOfSquares.Count(v => v == 0), Is.LessThan(expected.SumOfSquares.Length));
        });
    }

    // The factored plan drops the m × d rows (1.3 MB here) and adds one SYRK panel per core (25.6 kB): a model this size
    // keeps the comparison meaningful up to 50 cores (on mlp:30-20-10 the panels outweighed the 166 kB of rows from 7).
    [Test]
    public void Plan_CountsTheFactors_NotTheRows()
    {
        var (source, rows) = Make(inputs: 100, hidden: 60);
        var spec = EstimatorSpec.Parse("woodfisher:block=64,damping=1e-3,strategy=dense");
        var factored = WoodFisherMethod.Plan(source, spec)!;
        var plain = WoodFisherMethod.Plan(rows, spec)!;
        Assert.Multiple(() =>
        {
            Assert.That(factored.FactorBytes, Is.EqualTo(source.FactorBytes));
            Assert.That(factored.Describe(), Does.Contain("gradients held as factors"));
            Assert.That(plain.FactorBytes, Is.Null);
            Assert.That(factored.ReadBytes, Is.EqualTo(source.FactorBytes));
            Assert.That(factored.ScratchBytes, Is.LessThan(plain.ScratchBytes), "no m × d rows kept");
        });
    }
}
