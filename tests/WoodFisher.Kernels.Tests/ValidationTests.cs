using WoodFisher.Kernels;

namespace WoodFisher.Kernels.Tests;

[TestFixture]
public class ValidationTests
{
    private static WoodFisherOptions Options => new() { BlockSize = 4, Damping = 1e-2, Backend = BackendKind.Cpu, Strategy = WoodburyStrategy.RankK };

    [TestCase(0.0)]
    [TestCase(-1.0)]
    [TestCase(double.NaN)]
    [TestCase(double.PositiveInfinity)]
    public void Damping_MustBePositiveAndFinite(double lambda)
        => Assert.That(() => new WoodFisherBuilder(8, Options with { Damping = lambda }), Throws.TypeOf<ArgumentOutOfRangeException>());

    [Test]
    public void BadSizes_AreRejected()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => new WoodFisherBuilder(8, Options with { BlockSize = 0 }), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => new WoodFisherBuilder(8, Options with { MiniBatch = 0 }), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => new WoodFisherBuilder(0, Options), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => new WoodFisherBuilder(8, Options with { Normalizer = 0 }), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => new WoodFisherBuilder(8, Options with { Segments = [3, 4] }), Throws.ArgumentException);
            Assert.That(() => new WoodFisherBuilder(8, Options, expectedRows: 0), Throws.TypeOf<ArgumentOutOfRangeException>());
        });
    }

    [Test]
    public void WrongLengths_AreRejected()
    {
        using var b = new WoodFisherBuilder(8, Options);
        Assert.That(() => b.Add(new double[15], 2), Throws.ArgumentException);
        b.Add(new double[16], 2);
        using var inv = b.Build();
        Assert.That(() => inv.Multiply(new double[7]), Throws.ArgumentException);
        Assert.That(() => inv.ObsUpdate(new double[8], new bool[7]), Throws.ArgumentException);
    }

    [Test]
    public void NonFiniteGradient_NamesRowAndColumn()
    {
        using var b = new WoodFisherBuilder(8, Options);
        b.Add(new double[16], 2);
        var g = new float[24];
        g[(1 * 8) + 5] = float.NaN;
        var ex = Assert.Throws<NonFiniteGradientException>(() => b.Add(g, 3));
        Assert.Multiple(() =>
        {
            Assert.That(ex!.Row, Is.EqualTo(3));
            Assert.That(ex.Column, Is.EqualTo(5));
            Assert.That(ex.Message, Does.Contain("row 3").And.Contain("column 5"));
            Assert.That(b.RowsAdded, Is.EqualTo(2), "a rejected chunk adds nothing");
        });
    }

    [Test]
    public void Build_ChecksRowCounts()
    {
        using (var b = new WoodFisherBuilder(8, Options))
        {
            Assert.That(() => b.Build(), Throws.InvalidOperationException);
        }

        using var b2 = new WoodFisherBuilder(8, Options, expectedRows: 3);
        b2.Add(new double[16], 2);
        Assert.That(() => b2.Build(), Throws.InvalidOperationException.With.Message.Contains("expect 3"));
    }

    [Test]
    public void LostPositiveDefiniteness_NamesTheBlock()
    {
        using var backend = new CpuBackend();
        var layout = BlockLayout.Create(4, 2);
        using var s = backend.Allocate(layout, Precision.Float64);
        // Block 0 = I, block 1 = −I: the denominator N + gᵀF⁻¹g = 0.5 − 1 < 0 in block 1 only.
        backend.Write(s, [1, 0, 0, 1, -1, 0, 0, -1]);
        var ex = Assert.Throws<BlockNotPositiveDefiniteException>(() => backend.RankOneUpdates(s, [1, 0, 1, 0], 1, 0.5));
        Assert.That(ex!.Block, Is.EqualTo(1));
        backend.Write(s, [1, 0, 0, 1, -1, 0, 0, -1]);
        var ex2 = Assert.Throws<BlockNotPositiveDefiniteException>(() => backend.RankKUpdate(s, [1, 0, 1, 0], 1, 0.5));
        Assert.That(ex2!.Block, Is.EqualTo(1));
    }

    [Test]
    public void MemoryGuard_RejectsImpossibleSizes()
    {
        var options = Options with { BlockSize = 1_000_000 };
        var needed = WoodFisherBuilder.EstimateBytes(1_000_000_000, options);
        Assert.That(needed, Is.GreaterThan(1L << 40));
        var ex = Assert.Throws<InsufficientMemoryException>(() => new WoodFisherBuilder(1_000_000_000, options));
        Assert.That(ex!.Message, Does.Contain("bytes"));
    }

    [Test]
    public void MemoryEstimate_OfStreamedBuild_DoesNotGrowWithRowCount()
    {
        // Model-mode pruning of mlp:784-300-100-10: d = 266,200, c = 400. With m known the builder streams every strategy,
        // so its estimate is the blocks, the Dense Gram and a bounded panel whatever m is, never m × d. Dense keeps the float32
        // rows instead of its Gram only while they are at most twice the Gram (m ≤ 4c), so a larger m never costs more.
        const int d = 266_200;
        foreach (var strategy in new[] { WoodburyStrategy.Dense, WoodburyStrategy.RankK, WoodburyStrategy.Rank1 })
        {
            var options = Options with { BlockSize = 400, Strategy = strategy, Precision = Precision.Float32 };
            var small = WoodFisherBuilder.EstimateBytes(d, options, expectedRows: 1_000);
            var large = WoodFisherBuilder.EstimateBytes(d, options, expectedRows: 1_000_000);
            var blocks = (long)d * 400 * (strategy == WoodburyStrategy.Dense ? 4 + 8 : 4);
            Assert.That(large, strategy == WoodburyStrategy.Dense ? Is.LessThanOrEqualTo(small) : Is.EqualTo(small), strategy.ToString());
            Assert.That(small - blocks, Is.LessThan(1_000L * d * 4), $"{strategy}: working memory beyond the blocks stays below G itself");
        }
    }

    [Test]
    public void Backends_CreateCpu()
    {
        using var b = Backends.Create(BackendKind.Cpu);
        TestContext.Out.WriteLine($"backend: {b.Name}");
        Assert.That(b.Name, Does.StartWith("cpu-"));
        Assert.That(Backends.Resolve(BackendKind.Cpu), Is.EqualTo(BackendKind.Cpu));
    }
}
