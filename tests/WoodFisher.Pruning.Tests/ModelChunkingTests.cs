using WoodFisher.Kernels;
using WoodFisher.Models;

namespace WoodFisher.Pruning.Tests;

/// <summary>
/// Model mode under a memory budget: per-sample gradients produced by the autograd in budget-bounded chunks and streamed
/// into the builder (in memory, group of blocks by group, or in two passes), against the same prune with an ample
/// budget (whole panels of rows into one builder; for a damping search, the rows held in memory).
/// </summary>
[NonParallelizable]
public class ModelChunkingTests
{
    private const int Samples = 48;
    private const long Ample = 1L << 34;

    // d = 40·60 + 60·10 = 3,000 weights in two layers; 48 Fisher samples, then 20 calibration samples.
    private static (ModelCurvature Curvature, double[] Dense, PrunerOptions Options) Setup()
    {
        var model = ModelFactory.Create("mlp:40-60-10", seed: 3);
        var rng = new Random(12);
        var x = Enumerable.Range(0, (Samples + 20) * 40).Select(_ => (float)((2 * rng.NextDouble()) - 1)).ToArray();
        var y = Enumerable.Range(0, Samples + 20).Select(_ => rng.Next(10)).ToArray();
        var selection = ParameterSelection<float>.Prunable(model);
        var curvature = new ModelCurvature(model, selection, x, y) { CalibrationSamples = 20 };
        return (curvature, curvature.GetWeights(), new PrunerOptions { Sparsity = 0.7, Segments = selection.Segments });
    }

    private static EstimatorSpec Spec(Damping damping) =>
        new() { BlockSize = 50, Samples = Samples, Damping = damping, Precision = Precision.Float64, Backend = BackendKind.Cpu };

    private static PruningResult Prune(ModelCurvature curvature, double[] dense, PrunerOptions options, EstimatorSpec spec, long budget)
    {
        using var _ = MemoryBudget.Override(budget);
        curvature.SetWeights(dense);
        return new Pruner(options).Prune(dense, curvature.Factory(spec));
    }

    // Bit for bit: every plan feeds each block the same rows in the same panels (the whole layout's panel height), and a
    // sample's gradient does not depend on how many samples the autograd computes with it.
    [Test]
    public void ChunkedGradients_EqualTheInMemoryPrune_InEveryPlan()
    {
        var (curvature, dense, options) = Setup();
        var spec = Spec(1e-3);
        var expected = Prune(curvature, dense, options, spec, Ample);
        PassPlan whole;
        using (MemoryBudget.Override(Ample))
        {
            whole = curvature.Plan(spec)!;
        }

        Assert.That(whole is { ReadsSlabs: false, TwoPass: false }, whole.Describe());
        Assert.That(whole.ChunkRows, Is.EqualTo(whole.PieceRows), "an ample budget computes a whole panel of rows at once");
        var modes = new HashSet<string>();
        for (var budget = whole.TotalBytes; ; budget = budget * 19 / 20)
        {
            PassPlan plan;
            using (MemoryBudget.Override(budget))
            {
                try
                {
                    plan = curvature.Plan(spec)!;
                }
                catch (InsufficientMemoryException)
                {
                    break;
                }
            }

            modes.Add(plan.TwoPass ? "two passes" : plan.ReadsSlabs ? "groups" : "whole rows");
            var result = Prune(curvature, dense, options, spec, budget);
            Assert.Multiple(() =>
            {
                Assert.That(plan.TotalBytes, Is.LessThanOrEqualTo(budget), plan.Describe());
                Assert.That((long)plan.ChunkRows * 3_000 * sizeof(float), Is.LessThanOrEqualTo(Math.Max(budget * PassPlan.GradientChunkShare, 3_000 * sizeof(float))), plan.Describe());
                Assert.That(result.Mask, Is.EqualTo(expected.Mask), plan.Describe());
                Assert.That(result.Weights, Is.EqualTo(expected.Weights), plan.Describe());
                Assert.That(result.Scores, Is.EqualTo(expected.Scores), plan.Describe());
            });
        }

        Assert.That(modes, Is.SupersetOf(new[] { "whole rows", "groups", "two passes" }), "the budgets walked through every plan");
    }

    // Oracle: the search with the rows held in memory (ample budget). Under a budget below twice G's bytes the rows are
    // recomputed per λ, in chunks and two passes; every candidate is the same bits, so the same criterion values and λ.
    [Test]
    public void AutomaticDamping_ChoosesTheSameLambda_WithTheRowsRecomputed()
    {
        var (curvature, dense, options) = Setup();
        var spec = Spec(Damping.Search([1e-4, 1e-2, 1]));
        var expected = Prune(curvature, dense, options, spec, Ample);
        long budget;
        var gBytes = GradientMatrix.BytesFor(Samples, 3_000);
        using (MemoryBudget.Override(Ample))
        {
            budget = curvature.Plan(spec)!.TotalBytes;
        }

        // The largest budget with two passes and no room for G beside them.
        PassPlan plan;
        while (true)
        {
            budget = budget * 49 / 50;
            using (MemoryBudget.Override(budget))
            {
                plan = curvature.Plan(spec)!;
            }

            if (plan.TwoPass && gBytes + plan.TotalBytes > budget)
            {
                break;
            }
        }

        var streamed = Prune(curvature, dense, options, spec, budget);
        Assert.Multiple(() =>
        {
            Assert.That(streamed.Steps[0].Damping!.Chosen, Is.EqualTo(expected.Steps[0].Damping!.Chosen));
            Assert.That(streamed.Steps[0].Damping!.Values, Is.EqualTo(expected.Steps[0].Damping!.Values));
            Assert.That(streamed.Weights, Is.EqualTo(expected.Weights));
            Assert.That(streamed.Mask, Is.EqualTo(expected.Mask));
        });
    }

    [Test]
    public void TooSmallABudget_IsRefusedWithTheNumbers_BeforeAnyGradient()
    {
        var (curvature, dense, options) = Setup();
        var spec = Spec(1e-3);
        using var _ = MemoryBudget.Override(20_000);
        Assert.That(() => curvature.Plan(spec), Throws.TypeOf<InsufficientMemoryException>()
            .With.Message.Contains("even in two passes over groups of one block").And.Message.Contains("working set").And.Message.Contains("gradients produced 1 row"));
        Assert.That(() => new Pruner(options).Prune(dense, curvature.Factory(spec)), Throws.TypeOf<InsufficientMemoryException>());
    }
}
