using WoodFisher.Kernels;
using static WoodFisher.Kernels.Tests.Contract.DenseReference;

namespace WoodFisher.Kernels.Tests.Contract;

/// <summary>The contract through the builder and the joint update's solve policy.</summary>
public abstract partial class BackendContract
{
    public static IEnumerable<TestCaseData> StrategiesAndPrecisions()
    {
        foreach (var s in new[] { WoodburyStrategy.Rank1, WoodburyStrategy.RankK, WoodburyStrategy.Dense, WoodburyStrategy.Auto })
        {
            foreach (var p in Precisions)
            {
                yield return new TestCaseData(s, p);
            }
        }
    }

    // Every strategy on this backend against the Gauss–Jordan inverse of λI + GᵀG/N, across chunked adds (the last
    // partial) and uneven segmented blocks. Tolerances as in the class summary: float32 Woodbury updates and the float32
    // Gram both lose about log₁₀(κ) digits, κ ≲ 50 here.
    [TestCaseSource(nameof(StrategiesAndPrecisions))]
    public void EveryStrategy_ThroughTheBuilder_EqualsTheDenseInverse(WoodburyStrategy strategy, Precision precision)
    {
        const int rows = 45;
        var layout = Segmented();
        var d = layout.Dimension;
        var g = Gaussian(21, rows * d, 0.7);
        var options = new WoodFisherOptions { BlockSize = 4, Segments = [10, 13], Damping = Damping, Strategy = strategy, Precision = precision };
        using var builder = new WoodFisherBuilder(d, options, rows, Backend);
        builder.Add(g.AsSpan(0, 17 * d), 17);
        builder.Add(g.AsSpan(17 * d), rows - 17);
        using var inverse = builder.Build();
        var actual = new double[layout.SquareLength];
        for (var b = 0; b < layout.Count; b++)
        {
            inverse.Block(b).CopyTo(actual, layout.SquareOffset(b));
        }

        var expected = DampedFisherInverse(layout, Damping, g, rows, rows);
        Assert.That(MaxAbsDifference(actual, expected), Is.LessThanOrEqualTo(Tolerance(precision) * MaxAbs(expected)), inverse.Strategy.ToString());
    }

    // One gradient entry of 1e30 is finite, but its square is not in float32: every float32 strategy must report the
    // block that lost positive definiteness, never leave a silent 0 or NaN in the inverse. In float64 1e60 is
    // representable: Dense forms λ + 1e60/N and inverts it exactly, while the Woodbury forms compute the tiny diagonal
    // entry σN/(N + σg²) as a difference of nearly equal numbers and may lose it to cancellation; each strategy must then
    // either return the correct inverse or report that block, the same exception as float32.
    [TestCaseSource(nameof(StrategiesAndPrecisions))]
    public void EveryStrategy_HugeGradient_IsExactOrReportsTheBlock(WoodburyStrategy strategy, Precision precision)
    {
        const int rows = 6;
        var layout = BlockLayout.Create(12, 4);
        var g = Gaussian(22, rows * 12);
        g[(2 * 12) + 9] = 1e30;
        var options = new WoodFisherOptions { BlockSize = 4, Damping = Damping, Strategy = strategy, Precision = precision };
        double[]? block = null;
        WoodburyStrategy resolved;
        try
        {
            using var builder = new WoodFisherBuilder(12, options, rows, Backend);
            resolved = builder.Strategy;
            builder.Add(g, rows);
            using var inverse = builder.Build();
            block = inverse.Block(2);
        }
        catch (BlockNotPositiveDefiniteException e)
        {
            Assert.That(e.Block, Is.EqualTo(2));
            Assert.That(precision == Precision.Float32 || strategy is not WoodburyStrategy.Dense, "float64 Dense is exact here");
            return;
        }

        Assert.That(precision, Is.EqualTo(Precision.Float64), $"float32 {resolved} must report the block");
        var expected = DampedFisherInverseBlock(layout, 2, Damping, g, rows, rows);
        Assert.That(MaxAbsDifference(block, expected), Is.LessThanOrEqualTo(1e-10 * MaxAbs(expected)));
    }

    [TestCaseSource(nameof(StrategiesAndPrecisions))]
    public void EveryStrategy_NonFiniteGradient_IsRejectedNamingTheRow(WoodburyStrategy strategy, Precision precision)
    {
        var options = new WoodFisherOptions { BlockSize = 4, Damping = Damping, Strategy = strategy, Precision = precision };
        using var builder = new WoodFisherBuilder(8, options, 3, Backend);
        var g = Gaussian(23, 24);
        g[(2 * 8) + 1] = double.PositiveInfinity;
        Assert.That(() => builder.Add(g, 3), Throws.TypeOf<NonFiniteGradientException>().With.Property("Row").EqualTo(2).And.Property("Column").EqualTo(1));
    }

    // Block 0 stores two identical columns, so [F⁻¹]_QQ for Q = {0, 1} is exactly singular in either precision: Cholesky
    // fails at its second pivot and the policy retries with its first jitter τ. Block 1 is positive definite and takes the
    // plain Cholesky path in the same call. Because the columns of block 0 are equal, the jittered solution's large (1, −1)
    // part, about |w₀ − w₁|/2τ, cancels in [F⁻¹]_{:,Q}α, leaving δ = column₀·(w₀ + w₁)/(2 + τ); the float64 cancellation
    // costs at most u₆₄·|α| ≈ 1e-16 · 1e8 here, so 1e-7. Every backend gathers the same stored values and does the rest
    // in the shared float64 update, so all agree.
    [TestCaseSource(nameof(Precisions))]
    public void JointUpdate_SingularSubMatrix_IsTheStatedJitterSolution(Precision precision)
    {
        var layout = BlockLayout.Create(8, 4);
        double[] blocks =
        [
            1, 1, 0.5, 0,
            1, 1, 0.5, 0,
            0.5, 0.5, 2, 0,
            0, 0, 0, 1,
            2, 0.5, 0, 0,
            0.5, 2, 0.5, 0,
            0, 0.5, 2, 0.5,
            0, 0, 0.5, 2,
        ];
        using var storage = Backend.Allocate(layout, precision);
        Backend.Write(storage, blocks);
        double[] w = [0.3, -0.7, 1.1, 0.4, 0.2, -0.5, 0.9, 0.6];
        bool[] mask = [false, false, true, true, true, false, false, true];
        var actual = (double[])w.Clone();
        Backend.ObsUpdate(storage, actual, mask);

        var tau = JointObsUpdate.FirstJitter(2, 1.0, JointObsUpdate.UnitRoundoff(precision));
        var expected = (double[])w.Clone();
        var s0 = (w[0] + w[1]) / (2 + tau);
        for (var i = 0; i < 4; i++)
        {
            expected[i] -= blocks[(i * 4) + 0] * s0;
        }

        var delta1 = ConstrainedStep(blocks.AsSpan(16, 16).ToArray(), 4, w.AsSpan(4, 4).ToArray(), [1, 2]);
        for (var i = 0; i < 4; i++)
        {
            expected[4 + i] += delta1[i];
        }

        expected[0] = expected[1] = expected[5] = expected[6] = 0;
        Assert.Multiple(() =>
        {
            Assert.That(actual, Has.All.Matches<double>(double.IsFinite));
            Assert.That(MaxAbsDifference(actual, expected), Is.LessThanOrEqualTo(1e-7));
        });
    }
}

/// <summary>The contract on the SIMD CPU backend.</summary>
[TestFixture]
public sealed class CpuBackendContract : BackendContract
{
    protected override int RankKChunk => 32;

    protected override ICurvatureBackend CreateBackend() => new CpuBackend();
}
