using WoodFisher.Kernels;

namespace WoodFisher.Kernels.Tests;

/// <summary>
/// <see cref="WoodFisherBuilder.BuildAt"/>: one set of Gram matrices inverted at several λ equals a builder per λ — the
/// float64 dense oracle within 1e-9 in float64, and the per-λ Dense build bit for bit (the same Gram products and the
/// same Cholesky, only formed once), in either of the Dense strategy's two forms.
/// </summary>
[TestFixture]
public class BuildAtTests
{
    private const int D = 150;
    private const int C = 64;

    private static readonly double[] Lambdas = [1, 1e-4, 1e-2, 1e-4];

    // float64 loses about log10(κ) of its digits; κ ≤ 1e4 at λ = 1e-4 here (StrategyTests' 1e-9 class).
    [Test]
    public void Float64_EveryLambda_EqualsTheDenseOracle()
    {
        const int m = 100;
        var g = Oracle.RandomGradients(5, m, D);
        using var builder = new WoodFisherBuilder(D, Options(Precision.Float64), m);
        builder.Add(g, m);
        foreach (var lambda in Lambdas)
        {
            using var inv = builder.BuildAt(lambda);
            Assert.That(inv.Damping, Is.EqualTo(lambda));
            Assert.That(Oracle.MaxBlockError(inv, Oracle.BlockInverses(g, m, D, inv.Layout, lambda, m)), Is.LessThan(1e-9), $"λ = {lambda}");
        }
    }

    // m = 100 rows are kept (m ≤ 4c) and the Gram formed from them once; m = 400 accumulates the Gram as rows stream in.
    [TestCase(100)]
    [TestCase(400)]
    public void Float32_EveryLambda_EqualsAFreshDenseBuildBitForBit(int m)
    {
        var g = Array.ConvertAll(Oracle.RandomGradients(6, m, D), v => (float)v);
        using var builder = new WoodFisherBuilder(D, Options(Precision.Float32), m);
        builder.Add(g, m);
        foreach (var lambda in Lambdas)
        {
            using var swept = builder.BuildAt(lambda);
            using var fresh = WoodFisherBuilder.Compute(g, m, D, Options(Precision.Float32) with { Damping = lambda });
            for (var b = 0; b < swept.Layout.Count; b++)
            {
                Assert.That(swept.Block(b), Is.EqualTo(fresh.Block(b)), $"λ = {lambda}, block {b}");
            }
        }
    }

    /// <summary>
    /// A sweep on a backend that recycles blocks: each λ's inverse takes the blocks the previous one left when disposed
    /// (still holding its values) and must overwrite all of them: bit for bit the sweep without recycling.
    /// </summary>
    [TestCase(Precision.Float32)]
    [TestCase(Precision.Float64)]
    public void RecycledBlocks_GiveTheSameInverses(Precision precision)
    {
        const int m = 100;
        var g = Oracle.RandomGradients(9, m, D);
        using var backend = new CpuBackend { RecycleBlocks = true };
        using var recycling = new WoodFisherBuilder(D, Options(precision), m, backend);
        using var plain = new WoodFisherBuilder(D, Options(precision), m);
        recycling.Add(g, m);
        plain.Add(g, m);
        foreach (var lambda in Lambdas)
        {
            using var swept = recycling.BuildAt(lambda);
            using var expected = plain.BuildAt(lambda);
            for (var b = 0; b < swept.Layout.Count; b++)
            {
                Assert.That(swept.Block(b), Is.EqualTo(expected.Block(b)), $"λ = {lambda}, block {b}");
            }
        }
    }

    [Test]
    public void OtherStrategies_AreRefused()
    {
        using var builder = new WoodFisherBuilder(D, Options(Precision.Float64) with { Strategy = WoodburyStrategy.RankK }, 10);
        builder.Add(Oracle.RandomGradients(7, 10, D), 10);
        Assert.Throws<InvalidOperationException>(() => builder.BuildAt(1e-2));
    }

    [Test]
    public void NonPositiveDamping_IsRefused()
    {
        using var builder = new WoodFisherBuilder(D, Options(Precision.Float64), 10);
        builder.Add(Oracle.RandomGradients(8, 10, D), 10);
        Assert.Throws<ArgumentOutOfRangeException>(() => builder.BuildAt(0));
    }

    private static WoodFisherOptions Options(Precision precision) =>
        new() { BlockSize = C, Damping = 1e-3, Strategy = WoodburyStrategy.Dense, Precision = precision, Backend = BackendKind.Cpu };
}
