using WoodFisher.IO;
using WoodFisher.Kernels;
using WoodFisher.Pruning;

namespace WoodFisher.Distributed.Tests;

/// <summary>
/// Sharded pruning against the single-process run (<see cref="TensorPruning.Prune"/> on the whole vector from the whole
/// G), its oracle: ranks as threads, each reading only its columns of the same G.npy. The mask must be identical and
/// the weights equal: each block is built from the same rows by the same strategy and panel height, so the arithmetic
/// is the same (compared with a float32-rounding tolerance of 1e-6 relative all the same, as the issue asks).
/// </summary>
[NonParallelizable]
public class DistributedPruningTests
{
    private string _dir = "";

    [SetUp]
    public void CreateDir()
    {
        _dir = Path.Combine(Path.GetTempPath(), "wf-dist-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void DeleteDir() => Directory.Delete(_dir, recursive: true);

    /// <summary>G (m × d, rows of rank-structured noise so blocks are well conditioned but not trivial) and w.</summary>
    private (string Grads, double[] Weights) Problem(int m, int d, int seed)
    {
        var rng = new Random(seed);
        var g = new float[m * d];
        for (var i = 0; i < g.Length; i++)
        {
            g[i] = (float)((rng.NextDouble() - 0.5) * (1 + (i % d % 7)));
        }

        var path = Path.Combine(_dir, $"g{seed}.npy");
        Npy.Write(path, g, m, d);
        var w = Enumerable.Range(0, d).Select(_ => rng.NextDouble() - 0.5).ToArray();
        return (path, w);
    }

    private static RankPruningResult[] RunRanks(int ranks, string grads, double[] w, PrunerOptions options, EstimatorSpec spec, bool[]? mask = null)
    {
        using var reader = new NpyRowReader(grads);
        var rows = reader.Rows;
        var plan = DistributedPruning.Plan(w.Length, rows, ranks, options, spec);
        return InProcessCommunicator.Run(ranks, comm =>
        {
            var range = plan[comm.Rank];
            using var slab = range.IsEmpty || !options.Method.UsesCurvature ? null : new NpyColumnSlabSource(grads, range.Start, range.Length, range.Segments(plan.Layout));
            return DistributedPruning.Prune(comm, plan, w.AsSpan(range.Start, range.Length), slab, options, spec, mask is null ? default : mask.AsSpan(range.Start, range.Length));
        });
    }

    [TestCase("woodfisher", UpdateMode.Joint, 3)]
    [TestCase("woodfisher", UpdateMode.Independent, 2)]
    [TestCase("woodtaylor", UpdateMode.Joint, 3)]
    [TestCase("diagfisher", UpdateMode.Joint, 4)]
    [TestCase("magnitude", UpdateMode.None, 3)]
    public void ShardedRun_EqualsSingleProcess(string methodName, UpdateMode update, int ranks)
    {
        int[] segments = [130, 47, 223];
        var (grads, w) = Problem(24, segments.Sum(), 11);
        var method = PruningMethod.Find(methodName);
        var options = new PrunerOptions { Method = method, Update = update, Sparsity = 0.6, Segments = segments, GradientStep = 0.5 };
        var spec = new EstimatorSpec { Method = method, BlockSize = 20, Damping = 1e-3 };

        PruningResult single;
        using (var source = new NpyGradientSource(grads, segments))
            single = TensorPruning.Prune(w, method.UsesCurvature ? source : null, options, spec);

        var parts = RunRanks(ranks, grads, w, options, spec);
        Assert.That(parts.SelectMany(p => p.Mask), Is.EqualTo(single.Mask), "the mask");
        var weights = parts.SelectMany(p => p.Weights).ToArray();
        for (var i = 0; i < w.Length; i++)
        {
            Assert.That(weights[i], Is.EqualTo(single.Weights[i]).Within(1e-6 * (1 + Math.Abs(single.Weights[i]))), $"w[{i}]");
        }

        Assert.That(parts.SelectMany(p => p.Scores), Is.EqualTo(single.Scores), "the scores");
        Assert.That(parts[0].PrunedPerSegment, Is.EqualTo(single.SegmentSparsity.Select((s, k) => (long)Math.Round(s * segments[k]))));
    }

    [Test]
    public void LayerwiseSelection_NonPrunableSegment_AndInputMask_EqualSingleProcess()
    {
        int[] segments = [90, 60, 150];
        var (grads, w) = Problem(30, segments.Sum(), 5);
        var rng = new Random(9);
        var mask = Enumerable.Range(0, w.Length).Select(_ => rng.Next(6) != 0).ToArray();
        var options = new PrunerOptions { Sparsity = 0.5, Segments = segments, PrunableSegments = [true, false, true], Selection = SelectionMode.LayerwiseUniform };
        var spec = new EstimatorSpec { BlockSize = 25, Damping = 1e-3 };
        PruningResult single;
        using (var source = new NpyGradientSource(grads, segments))
            single = TensorPruning.Prune(w, source, options, spec, mask);

        var parts = RunRanks(3, grads, w, options, spec, mask);
        Assert.That(parts.SelectMany(p => p.Mask), Is.EqualTo(single.Mask));
        Assert.That(parts.SelectMany(p => p.Weights), Is.EqualTo(single.Weights).Within(1e-6));
    }

    [Test]
    public void MoreRanksThanBlocks_LeavesRanksEmpty_AndStillEqualsSingleProcess()
    {
        var (grads, w) = Problem(12, 60, 3);
        var options = new PrunerOptions { Sparsity = 0.4 };
        var spec = new EstimatorSpec { BlockSize = 30, Damping = 1e-2 };
        PruningResult single;
        using (var source = new NpyGradientSource(grads))
            single = TensorPruning.Prune(w, source, options, spec);

        var parts = RunRanks(5, grads, w, options, spec);
        Assert.That(parts.Count(p => p.Range.IsEmpty), Is.EqualTo(3), "2 blocks over 5 ranks");
        Assert.That(parts.SelectMany(p => p.Mask), Is.EqualTo(single.Mask));
        Assert.That(parts.SelectMany(p => p.Weights), Is.EqualTo(single.Weights).Within(1e-6));
    }

    [Test]
    public void Gather_OnRootRebuildsTheWholeResult()
    {
        var (grads, w) = Problem(16, 200, 8);
        var options = new PrunerOptions { Sparsity = 0.7 };
        var spec = new EstimatorSpec { BlockSize = 40, Damping = 1e-3 };
        PruningResult single;
        using (var source = new NpyGradientSource(grads))
            single = TensorPruning.Prune(w, source, options, spec);
        var plan = DistributedPruning.Plan(w.Length, 16, 3, options, spec);
        var results = InProcessCommunicator.Run(3, comm =>
        {
            var range = plan[comm.Rank];
            using var slab = new NpyColumnSlabSource(grads, range.Start, range.Length);
            var local = DistributedPruning.Prune(comm, plan, w.AsSpan(range.Start, range.Length), slab, options, spec);
            return DistributedPruning.Gather(comm, plan, local, options);
        });
        Assert.That(results[1], Is.Null);
        Assert.That(results[0]!.Mask, Is.EqualTo(single.Mask));
        Assert.That(results[0]!.Sparsity, Is.EqualTo(single.Sparsity));
        Assert.That(results[0]!.SegmentSparsity, Is.EqualTo(single.SegmentSparsity));
        Assert.That(results[0]!.Steps[0].InverseBytes, Is.EqualTo(single.Steps[0].InverseBytes), "the ranks' blocks are the single run's blocks");
    }

    [Test]
    public void BadInputOnOneRank_StopsEveryRankWithThatRanksMessage()
    {
        var (grads, w) = Problem(10, 90, 4);
        var options = new PrunerOptions { Sparsity = 0.5 };
        var spec = new EstimatorSpec { BlockSize = 30, Damping = 1e-3 };
        var plan = DistributedPruning.Plan(w.Length, 10, 3, options, spec);
        var ex = Assert.Throws<AggregateException>(() => InProcessCommunicator.Run(3, comm =>
        {
            var range = plan[comm.Rank];
            using var slab = new NpyColumnSlabSource(grads, range.Start, range.Length);
            // Rank 1 is handed one weight too few.
            var weights = w.AsSpan(range.Start, comm.Rank == 1 ? range.Length - 1 : range.Length);
            return DistributedPruning.Prune(comm, plan, weights, slab, options, spec);
        }));
        Assert.That(ex!.InnerExceptions, Has.Count.EqualTo(3).And.All.TypeOf<RankFailedException>());
        Assert.That(ex.InnerExceptions.Select(e => e.Message).Distinct().Single(), Does.StartWith("rank 1 of 3: Rank 1 holds coordinates [30, 60) but got 29 weights"));
    }

    [Test]
    public void MemoryBudgetBetweenTheRanksNeeds_RefusesOnTheLargerRank_AndStopsAll()
    {
        var (grads, w) = Problem(8, 400, 2);
        int[] segments = [250, 150];
        var options = new PrunerOptions { Sparsity = 0.5, Segments = segments };
        var spec = new EstimatorSpec { BlockSize = 100, Damping = 1e-3 };
        var plan = DistributedPruning.Plan(w.Length, 8, 2, options, spec);
        var need = plan.Ranges.Select(r => WoodFisherBuilder.EstimateBytes(r.Length, new WoodFisherOptions { BlockSize = 100, Segments = r.Segments(plan.Layout), Strategy = plan.Strategy }, 8) + (r.Length * 64L)).ToArray();
        Assert.That(need[0], Is.GreaterThan(need[1]), "blocks of 100, 100 | 50, 100, 50: rank 0 holds more");
        using var budget = MemoryBudget.Override((need[0] + need[1]) / 2);
        var ex = Assert.Throws<AggregateException>(() => InProcessCommunicator.Run(2, comm =>
        {
            var range = plan[comm.Rank];
            using var slab = new NpyColumnSlabSource(grads, range.Start, range.Length, range.Segments(plan.Layout));
            return DistributedPruning.Prune(comm, plan, w.AsSpan(range.Start, range.Length), slab, options, spec);
        }));
        Assert.That(ex!.InnerExceptions, Has.Count.EqualTo(2).And.All.TypeOf<RankFailedException>());
        Assert.That(ex.InnerExceptions[0].Message, Does.StartWith("rank 0 of 2: "));
    }
}
