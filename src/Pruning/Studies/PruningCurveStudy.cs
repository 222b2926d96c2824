namespace WoodFisher.Pruning.Studies;

/// <summary>One point of a one-shot pruning curve.</summary>
/// <param name="Label">The estimator's label.</param>
/// <param name="Update">Weight update applied after selection.</param>
/// <param name="TargetSparsity">Requested sparsity.</param>
/// <param name="Sparsity">Achieved fraction of zero coordinates.</param>
/// <param name="Loss">Loss of the pruned weights on the evaluation data.</param>
/// <param name="Accuracy">Accuracy of the pruned weights on the evaluation data, in [0, 1].</param>
public sealed record PruningCurvePoint(string Label, UpdateMode Update, double TargetSparsity, double Sparsity, double Loss, double Accuracy);

/// <summary>
/// One-shot pruning curves: for each sparsity, one <see cref="Pruner"/> step (the method's scores, global selection)
/// with an estimate built once at the dense weights, then an evaluation of the pruned weights. A method without an
/// update (magnitude) gives one curve, not one per update mode.
/// </summary>
public static class PruningCurveStudy
{
    /// <summary>Prunes <paramref name="weights"/> to each of <paramref name="sparsities"/> with each update mode and evaluates.</summary>
    /// <param name="label">Label of the estimator.</param>
    /// <param name="method">The method whose score ranks the weights (WoodTaylor is scored as WoodFisher: no gradient here).</param>
    /// <param name="inverse">Ĥ⁻¹ at <paramref name="weights"/> (not disposed).</param>
    /// <param name="weights">Dense w (length d).</param>
    /// <param name="segments">Layer lengths (sum d) for global selection, or null for one segment.</param>
    /// <param name="sparsities">Targets in [0, 1).</param>
    /// <param name="updates">Update modes to compare (e.g. joint and independent).</param>
    /// <param name="evaluate">Loss and accuracy of a weight vector.</param>
    /// <param name="progress">Called after each point.</param>
    public static IReadOnlyList<PruningCurvePoint> Run(string label, PruningMethod method, IInverseCurvature inverse, ReadOnlySpan<double> weights, IReadOnlyList<int>? segments,
        IReadOnlyList<double> sparsities, IReadOnlyList<UpdateMode> updates, Func<double[], (double Loss, double Accuracy)> evaluate, Action? progress = null)
    {
        ArgumentNullException.ThrowIfNull(inverse);
        ArgumentNullException.ThrowIfNull(sparsities);
        ArgumentNullException.ThrowIfNull(updates);
        ArgumentNullException.ThrowIfNull(evaluate);
        var points = new List<PruningCurvePoint>();
        ArgumentNullException.ThrowIfNull(method);
        var scored = method.UsesLossGradient ? PruningMethod.WoodFisher : method;
        foreach (var update in updates.Select(scored.EffectiveUpdate).Distinct())
        {
            foreach (var s in sparsities)
            {
                var pruner = new Pruner(new PrunerOptions { Method = scored, Update = update, Sparsity = s, Segments = segments });
                var result = pruner.Prune(weights, inverse);
                var (loss, accuracy) = evaluate(result.Weights);
                points.Add(new PruningCurvePoint(label, update, s, result.Sparsity, loss, accuracy));
                progress?.Invoke();
            }
        }

        return points;
    }
}
