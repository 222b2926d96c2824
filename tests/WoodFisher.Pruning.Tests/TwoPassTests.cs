using WoodFisher.IO;
using WoodFisher.Kernels;
using WoodFisher.Models;

namespace WoodFisher.Pruning.Tests;

/// <summary>
/// Pruning with blocks that do not fit the memory budget (two passes over groups of blocks) against the in-memory path on
/// the same rows: the same mask, the same weights to rounding, the same scores.
/// </summary>
[NonParallelizable]
public class TwoPassTests
{
    private const int D = 12_000;
    private const int M = 24;
    private static readonly int[] Segments = [5_000, 7_000];

    private static (double[] W, float[] G) Inputs()
    {
        var rng = new Random(31);
        return (Oracle.RandomVector(rng, D), [.. Oracle.RandomVector(rng, M * D).Select(x => (float)x)]);
    }

    private static PassPlan InMemoryPlan(EstimatorSpec spec, bool file = false) =>
        PassPlan.Create(BlockLayout.Create(D, spec.BlockSizeFor(D), Segments), M, Methods.WoodFisherMethod.Options(spec, D, Segments), MemoryBudget.Product(D, TensorPruning.VectorBytesPerWeight), file, budget: long.MaxValue);

    /// <summary>A file source (columns read directly) and an in-memory one (rows streamed once per group).</summary>
    private static IGradientSource Source(bool file, float[] g, string dir)
    {
        if (!file)
        {
            return new ArrayGradientSource(g, D, Segments);
        }

        var path = Path.Combine(dir, "g.npy");
        Npy.Write(path, g, M, D);
        return new NpyGradientSource(path, Segments);
    }

    // Both paths run the same Woodbury updates on the same rows in the same panels (each group's builder takes the whole
    // layout's panel height), so blocks, scores, masks and weights are the same bits.
    [TestCase(false, "float64")]
    [TestCase(true, "float64")]
    [TestCase(true, "float32")]
    public void TwoPasses_EqualTheInMemoryPath(bool file, string precision)
    {
        var dir = Directory.CreateTempSubdirectory("wf-twopass-").FullName;
        try
        {
            var (w, g) = Inputs();
            var spec = EstimatorSpec.Parse($"woodfisher:block=100,damping=1e-3,precision={precision}");
            var options = new PrunerOptions { Method = PruningMethod.WoodFisher, Sparsity = 0.7, Segments = Segments };
            var expected = TensorPruning.Prune(w, new ArrayGradientSource(g, D, Segments), options, spec);

            // Just below the in-memory working set (below that of resident groups, for rows streamed once per group): two
            // passes, each group a fraction of the blocks.
            var source = Source(file, g, dir);
            using var closing = source as IDisposable;
            var budget = TwoPassBudget(InMemoryPlan(spec, file).TotalBytes - 1, source, options, spec);
            using (MemoryBudget.Override(budget))
            {
                var plan = TensorPruning.Plan(source, options, spec)!;
                Assert.That(plan.TwoPass, Is.True, plan.Describe());
                Assert.That(plan.Groups.Count, Is.GreaterThan(1));
                Assert.That(plan.TotalBytes, Is.LessThanOrEqualTo(budget));
                var estimate = TensorPruning.Estimate(source, D, options, spec);
                Assert.That(estimate.Inverse, Is.TypeOf<GroupedWoodFisherCurvature>());
                ((IDisposable)estimate.Inverse).Dispose();
                var result = TensorPruning.Prune(w, source, options, spec);
                Assert.Multiple(() =>
                {
                    Assert.That(result.Mask, Is.EqualTo(expected.Mask));
                    Assert.That(result.Weights, Is.EqualTo(expected.Weights));
                    Assert.That(result.Scores, Is.EqualTo(expected.Scores));
                });
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The largest budget from <paramref name="start"/> down (by 2%) at which the plan has two passes.</summary>
    private static long TwoPassBudget(long start, IGradientSource source, PrunerOptions options, EstimatorSpec spec)
    {
        for (var budget = start; ; budget = budget * 49 / 50)
        {
            using var _ = MemoryBudget.Override(budget);
            if (TensorPruning.Plan(source, options, spec)!.TwoPass)
            {
                return budget;
            }
        }
    }

    [Test]
    public void TwoPass_Queries_MatchTheInMemoryInverse()
    {
        var (_, g) = Inputs();
        var spec = EstimatorSpec.Parse("woodfisher:block=100,damping=1e-3,precision=float64");
        var options = Methods.WoodFisherMethod.Options(spec, D, Segments);
        using var whole = WoodFisherCurvature.FromGradients(new ArrayGradientSource(g, D, Segments), options);
        var layout = BlockLayout.Create(D, 100, Segments);
        var plan = PassPlan.Create(layout, M, options, MemoryBudget.Product(D, TensorPruning.VectorBytesPerWeight), budget: InMemoryPlan(spec).TotalBytes - 1);
        Assert.That(plan.TwoPass, Is.True, plan.Describe());
        var passes = new List<PassProgress>();
        using var grouped = GroupedWoodFisherCurvature.Build(new ArrayGradientSource(g, D, Segments), options, plan, new SyncProgress(passes));
        var v = Oracle.RandomVector(new Random(3), D);
        int[] q = [5_000, 5_003, 5_099];
        Assert.Multiple(() =>
        {
            Assert.That(Oracle.MaxAbsDiff(grouped.Diagonal(), whole.Diagonal()), Is.LessThan(1e-10));
            Assert.That(Oracle.MaxAbsDiff(grouped.Multiply(v), whole.Multiply(v)), Is.LessThan(1e-9));
            Assert.That(Oracle.MaxAbsDiff(grouped.SubMatrix(q), whole.SubMatrix(q)), Is.LessThan(1e-10));
            Assert.That(grouped.Passes, Is.EqualTo(3), "the build, then a pass for Multiply and one (a single group) for SubMatrix");
            Assert.That(passes.Count(p => p.Pass == 1), Is.EqualTo(plan.Groups.Count), "progress after every group of the first pass");
        });
    }

    /// <summary>A two-pass estimate and the in-memory one over the same rows, in float64.</summary>
    private static (WoodFisherCurvature Whole, GroupedWoodFisherCurvature Grouped, PassPlan Plan) TwoPassPair()
    {
        var (_, g) = Inputs();
        var spec = EstimatorSpec.Parse("woodfisher:block=100,damping=1e-3,precision=float64");
        var options = Methods.WoodFisherMethod.Options(spec, D, Segments);
        var whole = WoodFisherCurvature.FromGradients(new ArrayGradientSource(g, D, Segments), options);
        var plan = PassPlan.Create(BlockLayout.Create(D, 100, Segments), M, options, MemoryBudget.Product(D, TensorPruning.VectorBytesPerWeight), budget: InMemoryPlan(spec).TotalBytes - 1);
        Assert.That(plan.TwoPass, Is.True, plan.Describe());
        return (whole, GroupedWoodFisherCurvature.Build(new ArrayGradientSource(g, D, Segments), options, plan), plan);
    }

    [Test]
    public void TwoPass_SubMatrices_TakeOnePassForAllParts()
    {
        var (whole, grouped, plan) = TwoPassPair();
        using var _ = whole;
        using var __ = grouped;
        int[][] parts = [[5_000, 5_003], [0, 99], [11_999], [7_050, 7_000, 7_099], []];
        BlockRange[] ranges = [.. plan.Groups];
        var spanned = parts.Where(p => p.Length > 0).Select(p => Array.FindIndex(ranges, r => r.Start <= p[0] && p[0] < r.Start + r.Length)).Distinct().Count();
        var got = new double[parts.Length][];
        grouped.SubMatrices(parts, (i, sub) => got[i] = sub);
        var byDefault = new double[parts.Length][];
        ((IInverseCurvature)whole).SubMatrices(parts, (i, sub) => byDefault[i] = sub);
        Assert.Multiple(() =>
        {
            Assert.That(spanned, Is.GreaterThan(1), "the parts lie in several groups of blocks");
            Assert.That(grouped.Passes, Is.EqualTo(2), "the build, then one pass for all the parts");
            for (var i = 0; i < parts.Length; i++)
            {
                Assert.That(Oracle.MaxAbsDiff(got[i], whole.SubMatrix(parts[i])), Is.LessThan(1e-10), $"part {i}");
                Assert.That(byDefault[i], Is.EqualTo(whole.SubMatrix(parts[i])), $"part {i}, the interface's default");
            }
        });
    }

    [TestCase("2:4")]
    [TestCase("block:2x2")]
    [TestCase("neurons")]
    public void TwoPass_PatternSelection_IsTheInMemorySelection_InOnePass(string pattern)
    {
        var (whole, grouped, _) = TwoPassPair();
        using var _ = whole;
        using var __ = grouped;
        var layout = new PatternLayout(Segments, [[50, 100], [70, 100]], [true, true]);
        var w = Oracle.RandomVector(new Random(5), D);
        var p = PruningPattern.Parse(pattern);
        var expected = PatternSelection.Select(p, layout, w, whole, [], 0.5);
        var mask = PatternSelection.Select(p, layout, w, grouped, [], 0.5);
        Assert.Multiple(() =>
        {
            Assert.That(mask, Is.EqualTo(expected));
            Assert.That(grouped.Passes, Is.EqualTo(2), "the build, then one pass for every group's sub-matrices");
        });
    }

    [Test]
    public void EvenTwoPassesDoNotFit_RefusedWithTheNumbers()
    {
        var (w, g) = Inputs();
        var options = new PrunerOptions { Method = PruningMethod.WoodFisher, Sparsity = 0.5, Segments = Segments };
        using var _ = MemoryBudget.Override(100_000);
        Assert.That(() => TensorPruning.CheckInputs(D, new ArrayGradientSource(g, D, Segments), options),
            Throws.TypeOf<InsufficientMemoryException>().With.Message.Contains("even in two passes over groups of one block").And.Message.Contains("working set"));
        Assert.That(w, Has.Length.EqualTo(D));
    }

    /// <summary>Records progress synchronously (<see cref="Progress{T}"/> would post to the thread pool).</summary>
    private sealed class SyncProgress(List<PassProgress> list) : IProgress<PassProgress>
    {
        public void Report(PassProgress value) => list.Add(value);
    }
}
