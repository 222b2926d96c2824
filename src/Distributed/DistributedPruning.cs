using System.Diagnostics;
using WoodFisher.Kernels;
using WoodFisher.Models;
using WoodFisher.Pruning;

namespace WoodFisher.Distributed;

/// <summary>
/// Tensor-mode pruning (<see cref="TensorPruning.Prune"/>) with the blocks sharded over ranks: rank r holds the
/// coordinates of its <see cref="RankPlan"/> range — their weights, their columns of G, their blocks of H⁻¹ — and builds,
/// scores and updates them alone, as the smaller problem of its own coordinates; only the global threshold needs every
/// rank (<see cref="DistributedSelection"/>). The mask equals the single-process run's and the weights equal it up to
/// float32 rounding: each block is built from the same rows by the same strategy (<see cref="RankPlan.Strategy"/>;
/// identical bits when the builder's panel height, max(2²²/d, min(c/2, 96)) clamped to 256, is the same for the rank's
/// width as for the whole d, as it is when both are at most 16,384 or both at least 2²²/min(c/2, 96) columns).
/// Every step a rank runs alone is agreed on (<see cref="RankFailure"/>), so bad input or an exception on one rank stops
/// every rank with that rank's message.
/// </summary>
public static class DistributedPruning
{
    /// <summary>
    /// The plan of a tensor-mode run over <paramref name="ranks"/> ranks: blocks of the estimator's c (whatever the
    /// method: the ranges are contiguous coordinates either way) balanced by their build cost from m gradients.
    /// </summary>
    /// <param name="dimension">d.</param>
    /// <param name="rows">Gradient rows in G (0 when none are read).</param>
    /// <param name="ranks">Number of ranks.</param>
    /// <param name="options">The pruner's options (segments).</param>
    /// <param name="estimator">Block size, mini-batch, strategy; null = the defaults.</param>
    public static RankPlan Plan(int dimension, long rows, int ranks, PrunerOptions options, EstimatorSpec? estimator = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var spec = estimator ?? new EstimatorSpec();
        var m = options.Method.UsesCurvature ? (rows + spec.MiniBatch - 1) / Math.Max(1, spec.MiniBatch) : 0;
        return RankPlan.Create(dimension, options.Segments, spec.BlockSizeFor(dimension), m, ranks, spec.Strategy, spec.Precision);
    }

    /// <summary>
    /// This rank's part of <see cref="TensorPruning.Prune"/> (K = 1): every rank calls it with the same plan, options
    /// and estimator and its own slice of the inputs.
    /// </summary>
    /// <param name="comm">The ranks (as many as <paramref name="plan"/> has).</param>
    /// <param name="plan">Who holds which blocks.</param>
    /// <param name="weights">w over this rank's range (length = its <see cref="BlockRange.Length"/>).</param>
    /// <param name="gradients">G's columns of this rank's range (e.g. <c>NpyColumnSlabSource</c>), with the range's
    /// segments; null for magnitude pruning or an empty range.</param>
    /// <param name="options">The pruner's options over the whole vector (segments, prunable segments, sparsity).</param>
    /// <param name="estimator">λ, c and the other estimator settings (the strategy is the plan's); null = the defaults.</param>
    /// <param name="mask">This rank's current mask (true = kept) or empty for all kept.</param>
    /// <exception cref="RankFailedException">A rank's inputs were refused or its work failed; every rank throws.</exception>
    public static RankPruningResult Prune(ICommunicator comm, RankPlan plan, ReadOnlySpan<double> weights, IGradientSource? gradients, PrunerOptions options, EstimatorSpec? estimator = null, ReadOnlySpan<bool> mask = default)
    {
        ArgumentNullException.ThrowIfNull(comm);
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(options);
        var range = plan[comm.Rank];
        var w = weights.ToArray();
        var m = mask.IsEmpty ? Enumerable.Repeat(true, w.Length).ToArray() : mask.ToArray();
        var local = options with { Segments = range.IsEmpty ? null : range.Segments(plan.Layout), PrunableSegments = null };
        var spec = (estimator ?? new EstimatorSpec()) with { Strategy = plan.Strategy };
        var method = options.Method;
        RankFailure.Agree(comm, () => Check(comm, plan, range, w, m, gradients, local, spec, options));

        // An input mask leaves its pruned coordinates out of the estimate (the Fisher of the surviving weights), as in one process.
        var rows = gradients is not null && !mask.IsEmpty && !range.IsEmpty ? new MaskedGradientSource(gradients, m) : gradients;

        var clock = Stopwatch.StartNew();
        var estimate = RankFailure.Agree(comm, () => range.IsEmpty ? null : InWholeColumns(range, () => TensorPruning.Estimate(rows, range.Length, local, spec)));
        try
        {
            estimate = AgreeOnPrecision(comm, estimate, rows, range, local, spec);
            var timings = new PhaseTimings { Gradients = estimate?.GradientSeconds ?? 0, Inverse = estimate is null ? 0 : clock.Elapsed.TotalSeconds - estimate.GradientSeconds };

            clock.Restart();
            var (scores, inverseTimesGradient) = RankFailure.Agree(comm, () => Score(method, options.GradientStep, estimate, w, m));
            var sparsity = new OneShotSchedule(options.Sparsity, 1, options.Stepping).SparsityAt(1);
            var selection = DistributedSelection.Select(comm, range.Start, plan.Layout.Dimension, scores, m, sparsity, options.Selection, options.Segments, options.PrunableSegments);
            m = selection.Mask;
            timings = timings with { Selection = clock.Elapsed.TotalSeconds };

            clock.Restart();
            RankFailure.Agree(comm, () =>
            {
                if (estimate is not null)
                {
                    ObsWeightUpdate.Apply(options.EffectiveUpdate, estimate.Inverse, w, m, inverseTimesGradient);
                }
            });
            timings = timings with { Update = clock.Elapsed.TotalSeconds };

            var segments = MaskSelection.CheckSegments(options.Segments, plan.Layout.Dimension, options.PrunableSegments);
            var pruned = PrunedPerSegment(segments, range, m);
            comm.AllReduce(pruned, ReduceOperation.Sum);
            return new RankPruningResult(range, w, m, scores, timings, estimate?.Inverse.Bytes ?? 0, estimate?.Inverse.Name ?? "", pruned, selection);
        }
        finally
        {
            if (estimate?.Inverse is IDisposable disposable)
            {
                disposable.Dispose();
            }
        }
    }

    /// <summary>
    /// The whole <see cref="PruningResult"/> on <paramref name="root"/> (null on the other ranks): weights, mask and
    /// scores gathered by ranges; per-phase seconds of the slowest rank; the inverse's bytes summed over ranks.
    /// </summary>
    public static PruningResult? Gather(ICommunicator comm, RankPlan plan, RankPruningResult local, PrunerOptions options, int root = 0)
    {
        ArgumentNullException.ThrowIfNull(comm);
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(local);
        ArgumentNullException.ThrowIfNull(options);
        var d = plan.Layout.Dimension;
        var lengths = plan.Lengths();
        var isRoot = comm.Rank == root;
        var weights = isRoot ? new double[d] : [];
        var mask = isRoot ? new bool[d] : [];
        var scores = isRoot ? new double[d] : [];
        comm.GatherV<double>(local.Weights, weights, lengths, root);
        comm.GatherV<bool>(local.Mask, mask, lengths, root);
        comm.GatherV<double>(local.Scores, scores, lengths, root);
        Span<double> seconds = [local.Timings.Gradients, local.Timings.Inverse, local.Timings.Selection, local.Timings.Update];
        comm.AllReduce(seconds, ReduceOperation.Max);
        var bytes = comm.Sum(local.InverseBytes);
        if (!isRoot)
        {
            return null;
        }

        var segments = MaskSelection.CheckSegments(options.Segments, d, options.PrunableSegments);
        var segmentSparsity = new double[segments.Length];
        for (var s = 0; s < segments.Length; s++)
        {
            segmentSparsity[s] = (double)local.PrunedPerSegment[s] / segments[s];
        }

        var timings = new PhaseTimings { Gradients = seconds[0], Inverse = seconds[1], Selection = seconds[2], Update = seconds[3] };
        var sparsity = MaskSelection.Sparsity(mask, segments, options.PrunableSegments);
        var name = $"{local.Estimator} on {comm.Size} ranks";
        return new PruningResult(weights, mask, scores, segmentSparsity, sparsity, timings, [new PruningStep(1, options.Sparsity, sparsity, name, bytes, timings)]);
    }

    /// <summary>Runs a step over the range's columns, naming a non-finite gradient entry by its column in the whole G.</summary>
    public static T InWholeColumns<T>(BlockRange range, Func<T> step)
    {
        ArgumentNullException.ThrowIfNull(step);
        try
        {
            return step();
        }
        catch (NonFiniteGradientException ex)
        {
            throw new NonFiniteGradientException(ex.Row, ex.Column + range.Start, ex.Value);
        }
    }

    private static void Check(ICommunicator comm, RankPlan plan, BlockRange range, double[] w, bool[] m, IGradientSource? gradients, PrunerOptions local, EstimatorSpec spec, PrunerOptions options)
    {
        plan.CheckRanks(comm);
        _ = new Pruner(options);
        MaskSelection.CheckSegments(options.Segments, plan.Layout.Dimension, options.PrunableSegments);
        if (w.Length != range.Length || m.Length != range.Length)
        {
            throw new ArgumentException($"Rank {comm.Rank} holds coordinates [{range.Start}, {range.End}) but got {w.Length} weights and a mask of {m.Length}.");
        }

        if (!range.IsEmpty)
        {
            TensorPruning.CheckInputs(range.Length, gradients, local, spec);
        }
    }

    /// <summary>
    /// A float32 build that lost positive definiteness is rebuilt in float64 (<see cref="WoodFisherCurvature.PrecisionFallback"/>);
    /// when any rank did, every rank does, as the single-process run rebuilds every block.
    /// </summary>
    private static CurvatureEstimate? AgreeOnPrecision(ICommunicator comm, CurvatureEstimate? estimate, IGradientSource? gradients, BlockRange range, PrunerOptions local, EstimatorSpec spec)
    {
        var mine = estimate?.Inverse is WoodFisherCurvature { PrecisionFallback: true } ? 1.0 : 0.0;
        if (comm.Max(mine) == 0 || mine == 1 || spec.Precision != Precision.Float32 || estimate?.Inverse is not WoodFisherCurvature)
        {
            return estimate;
        }

        (estimate.Inverse as IDisposable)?.Dispose();
        return RankFailure.Agree(comm, () => InWholeColumns(range, () => TensorPruning.Estimate(gradients, range.Length, local, spec with { Precision = Precision.Float64 })));
    }

    private static (double[] Scores, double[]? InverseTimesGradient) Score(PruningMethod method, double step, CurvatureEstimate? estimate, double[] w, bool[] m)
    {
        for (var i = 0; i < w.Length; i++)
        {
            if (!m[i])
            {
                w[i] = 0;
            }
        }

        if (estimate is null)
        {
            return ([], null);
        }

        double[]? ihvg = null;
        if (method.UsesLossGradient)
        {
            var g = estimate.Gradient ?? throw new InvalidOperationException($"{method.Name} needs the loss gradient g.");
            ihvg = estimate.Inverse.Multiply(g);
            if (step != 1)
            {
                for (var i = 0; i < ihvg.Length; i++)
                {
                    ihvg[i] *= step;
                }
            }
        }

        return (method.Score(w, estimate.Inverse, ihvg), ihvg);
    }

    private static long[] PrunedPerSegment(int[] segments, BlockRange range, bool[] mask)
    {
        var pruned = new long[segments.Length];
        var start = 0;
        for (var s = 0; s < segments.Length; s++)
        {
            var lo = Math.Max(start, range.Start);
            var hi = Math.Min(start + segments[s], range.End);
            for (var i = lo; i < hi; i++)
            {
                if (!mask[i - range.Start])
                {
                    pruned[s]++;
                }
            }

            start += segments[s];
        }

        return pruned;
    }
}

/// <summary>One rank's outcome of <see cref="DistributedPruning.Prune"/>.</summary>
/// <param name="Range">The rank's blocks and coordinates.</param>
/// <param name="Weights">New weights of the range.</param>
/// <param name="Mask">New mask of the range (true = kept).</param>
/// <param name="Scores">Scores of the range.</param>
/// <param name="Timings">This rank's seconds per phase.</param>
/// <param name="InverseBytes">Bytes of this rank's blocks.</param>
/// <param name="Estimator">Name of this rank's estimate ("" for an empty range).</param>
/// <param name="PrunedPerSegment">Pruned coordinates per segment of the whole vector (summed over ranks).</param>
/// <param name="Selection">The threshold search's traffic.</param>
public sealed record RankPruningResult(BlockRange Range, double[] Weights, bool[] Mask, double[] Scores, PhaseTimings Timings, long InverseBytes, string Estimator, long[] PrunedPerSegment, DistributedSelectionResult Selection);
