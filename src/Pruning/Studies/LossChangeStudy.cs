namespace WoodFisher.Pruning.Studies;

/// <summary>Predicted against measured loss changes of single-weight OBS removals, for one estimator.</summary>
/// <param name="Label">The estimator's label.</param>
/// <param name="Indices">The removed coordinates q (one removal each, from the same starting weights).</param>
/// <param name="Weights">w_q before removal.</param>
/// <param name="Predicted">OBS prediction ρ_q = w_q²/(2[Ĥ⁻¹]_qq), the quadratic model's ½δᵀĤδ at a minimum.</param>
/// <param name="FirstOrder">gᵀδ with g = ∇L(w) (the term a zero-gradient model leaves out); zero without a gradient.</param>
/// <param name="Actual">L(w + δ) − L(w), measured.</param>
/// <param name="Pearson">Pearson correlation of <paramref name="Predicted"/> and <paramref name="Actual"/>.</param>
/// <param name="Spearman">Spearman correlation of <paramref name="Predicted"/> and <paramref name="Actual"/>.</param>
/// <param name="PearsonWithGradient">Pearson correlation of ρ_q + gᵀδ and the actual change.</param>
/// <param name="SpearmanWithGradient">Spearman correlation of ρ_q + gᵀδ and the actual change.</param>
public sealed record LossChangeResult(
    string Label,
    int[] Indices,
    double[] Weights,
    double[] Predicted,
    double[] FirstOrder,
    double[] Actual,
    double Pearson,
    double Spearman,
    double PearsonWithGradient,
    double SpearmanWithGradient);

/// <summary>
/// Loss-change prediction: for each sampled weight q, the estimator's OBS update δ = −w_q Ĥ⁻¹e_q/[Ĥ⁻¹]_qq, applied as
/// the pruner applies it (<see cref="IInverseCurvature.ObsUpdate"/> with Q = {q}: restricted to q's block for
/// block-diagonal estimators and K-FAC), then w_q = 0; the prediction ρ_q against the measured L(w + δ) − L(w).
/// </summary>
public static class LossChangeStudy
{
    /// <summary>
    /// Draws <paramref name="count"/> distinct coordinates with w_q ≠ 0 (all of them when fewer), seeded, in ascending order.
    /// </summary>
    public static int[] SampleIndices(ReadOnlySpan<double> weights, int count, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var candidates = new List<int>();
        for (var i = 0; i < weights.Length; i++)
        {
            if (weights[i] != 0)
            {
                candidates.Add(i);
            }
        }

        var pool = candidates.ToArray();
        new Random(seed).Shuffle(pool);
        var chosen = pool.AsSpan(0, Math.Min(count, pool.Length)).ToArray();
        Array.Sort(chosen);
        return chosen;
    }

    /// <summary>Runs the removals for one estimator.</summary>
    /// <param name="label">Row label.</param>
    /// <param name="inverse">Ĥ⁻¹ (dimension d).</param>
    /// <param name="weights">w (length d).</param>
    /// <param name="indices">The coordinates to remove, one at a time.</param>
    /// <param name="loss">L, measured at w and at each w + δ.</param>
    /// <param name="gradient">∇L(w) (length d) for the first-order term, or empty.</param>
    /// <param name="baseline">L(w) when already known (saves one evaluation).</param>
    /// <param name="progress">Called after each removal.</param>
    public static LossChangeResult Run(string label, IInverseCurvature inverse, ReadOnlySpan<double> weights, ReadOnlySpan<int> indices, ILossEvaluator loss,
        ReadOnlySpan<double> gradient = default, double? baseline = null, Action? progress = null)
    {
        ArgumentNullException.ThrowIfNull(inverse);
        ArgumentNullException.ThrowIfNull(loss);
        var d = weights.Length;
        if (inverse.Dimension != d || loss.Dimension != d || (!gradient.IsEmpty && gradient.Length != d))
        {
            throw new ArgumentException($"Estimate (d = {inverse.Dimension}), loss (d = {loss.Dimension}) and gradient ({gradient.Length}) must match the {d} weights.");
        }

        var l0 = baseline ?? loss.Loss(weights);
        var diag = inverse.Diagonal();
        var k = indices.Length;
        var w = new double[k];
        var predicted = new double[k];
        var firstOrder = new double[k];
        var actual = new double[k];
        var mask = Enumerable.Repeat(true, d).ToArray();
        var moved = new double[d];
        for (var t = 0; t < k; t++)
        {
            var q = indices[t];
            if ((uint)q >= (uint)d)
            {
                throw new ArgumentOutOfRangeException(nameof(indices), q, $"Index outside [0, {d}).");
            }

            weights.CopyTo(moved);
            mask[q] = false;
            inverse.ObsUpdate(moved, mask);
            mask[q] = true;
            moved[q] = 0;
            w[t] = weights[q];
            predicted[t] = weights[q] * weights[q] / (2 * diag[q]);
            if (!gradient.IsEmpty)
            {
                double s = 0;
                for (var i = 0; i < d; i++)
                {
                    s += gradient[i] * (moved[i] - weights[i]);
                }

                firstOrder[t] = s;
            }

            actual[t] = loss.Loss(moved) - l0;
            progress?.Invoke();
        }

        var withGradient = new double[k];
        for (var t = 0; t < k; t++)
        {
            withGradient[t] = predicted[t] + firstOrder[t];
        }

        return new LossChangeResult(label, indices.ToArray(), w, predicted, firstOrder, actual,
            StudyMetrics.Pearson(predicted, actual), StudyMetrics.Spearman(predicted, actual),
            StudyMetrics.Pearson(withGradient, actual), StudyMetrics.Spearman(withGradient, actual));
    }
}
