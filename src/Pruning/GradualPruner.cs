namespace WoodFisher.Pruning;

/// <summary>One pruning step of <see cref="GradualPruner"/>.</summary>
/// <param name="Epoch">Epoch t at which the step ran (before that epoch's fine-tuning).</param>
/// <param name="TargetSparsity">s_t of the schedule.</param>
/// <param name="Result">The pruner's output at that step.</param>
public sealed record GradualStep(int Epoch, double TargetSparsity, PruningResult Result);

/// <summary>
/// Gradual pruning: for epochs t = 0..T−1, at every pruning step of a <see cref="PolynomialSchedule"/> prune the
/// host's weights to s_t with <see cref="Pruner"/> in <see cref="RecomputeSteps"/> OBS steps (the current mask carried
/// over, so earlier pruned weights stay pruned), install the new weights and mask, then fine-tune until the next step
/// with the mask held fixed.
/// </summary>
/// <param name="schedule">Sparsity targets s_t per epoch.</param>
/// <param name="options">Pruner options; <see cref="PrunerOptions.Sparsity"/> is replaced by s_t and
/// <see cref="PrunerOptions.RecomputeSteps"/> by <see cref="RecomputeSteps"/> at each step.</param>
/// <param name="totalEpochs">T ≥ 1: epochs of training in all (fine-tuning continues after the last step).</param>
public sealed class GradualPruner(PolynomialSchedule schedule, PrunerOptions options, int totalEpochs)
{
    /// <summary>The schedule.</summary>
    public PolynomialSchedule Schedule { get; } = schedule ?? throw new ArgumentNullException(nameof(schedule));

    /// <summary>The pruner options.</summary>
    public PrunerOptions Options { get; } = options ?? throw new ArgumentNullException(nameof(options));

    /// <summary>
    /// The default of <see cref="RecomputeSteps"/>. A pruning step of the cubic schedule removes up to two thirds of the
    /// surviving weights at once, far outside the region where one quadratic model holds; taken in 4 steps, each on a
    /// Fisher re-estimated at the compensated weights, the mask it leaves trains to more (docs/fidelity/gradual.md:
    /// chosen on a held-out split of the training data, not on the test set).
    /// </summary>
    public const int DefaultRecomputeSteps = 4;

    /// <summary>K ≥ 1: OBS recompute steps within each pruning step (from the sparsity the mask has to s_t, cubic by
    /// default; λ chosen for the K steps together). 1 prunes each step at once. Methods without curvature (magnitude)
    /// select the same weights for any K.</summary>
    public int RecomputeSteps
    {
        get;
        init => field = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "RecomputeSteps K must be at least 1.");
    } = DefaultRecomputeSteps;

    /// <summary>T.</summary>
    public int TotalEpochs { get; } = totalEpochs >= 1 ? totalEpochs : throw new ArgumentOutOfRangeException(nameof(totalEpochs), totalEpochs, "Training needs at least one epoch.");

    /// <summary>Runs the schedule against <paramref name="host"/>; returns the pruning steps in order.</summary>
    /// <param name="host">The trainer callbacks.</param>
    /// <param name="mask">Initial mask (length d, true = kept) or null for dense.</param>
    /// <param name="progress">Receives the pruner's damping-search lines.</param>
    public IReadOnlyList<GradualStep> Run(IGradualPruningHost host, bool[]? mask = null, IProgress<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        var steps = new List<GradualStep>();
        var current = mask;
        var t = 0;
        while (t < TotalEpochs)
        {
            if (Schedule.IsPruningStep(t))
            {
                var s = Schedule.SparsityAt(t);
                var pruner = new Pruner(Options with { Sparsity = s, RecomputeSteps = RecomputeSteps });
                var result = pruner.Prune(host.GetWeights(), host.ComputeCurvature, current, progress);
                current = result.Mask;
                host.SetWeights(result.Weights);
                host.SetMask(result.Mask);
                steps.Add(new GradualStep(t, s, result));
            }

            var next = t + 1;
            while (next < TotalEpochs && !Schedule.IsPruningStep(next))
            {
                next++;
            }

            host.FineTune(next - t);
            t = next;
        }

        return steps;
    }
}
