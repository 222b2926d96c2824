namespace WoodFisher.Pruning;

/// <summary>
/// How one pruning step chose its damping λ (<see cref="Damping.Auto"/>): the step was taken once per λ of the grid
/// from the same gradients, each result judged by the criterion (lower is better), and the lowest kept.
/// </summary>
/// <param name="Criterion">What was measured, e.g. "calibration loss (1000 samples)" or "held-out quadratic cost (250 rows)".</param>
/// <param name="Grid">The λ tried, ascending.</param>
/// <param name="Values">The criterion of each λ (same order; +∞ where the estimate could not be built).</param>
/// <param name="Chosen">The λ kept.</param>
public sealed record DampingSelection(string Criterion, IReadOnlyList<double> Grid, IReadOnlyList<double> Values, double Chosen)
{
    /// <summary>Index of the lowest criterion value (the first on ties; NaN counts as +∞).</summary>
    public static int Best(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var best = -1;
        for (var i = 0; i < values.Count; i++)
        {
            var v = double.IsNaN(values[i]) ? double.PositiveInfinity : values[i];
            if (best < 0 || v < (double.IsNaN(values[best]) ? double.PositiveInfinity : values[best]))
            {
                best = i;
            }
        }

        return best;
    }
}
