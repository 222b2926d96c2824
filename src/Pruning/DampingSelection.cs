namespace WoodFisher.Pruning;

/// <summary>
/// How one pruning step chose its damping λ (<see cref="Damping.Auto"/>) and, for WoodTaylor, its Newton step η
/// (<see cref="PrunerOptions.GradientStepGrid"/>): the step was taken once per candidate from the same gradients, each
/// result judged by the criterion (lower is better), and the lowest kept.
/// </summary>
/// <param name="Criterion">What was measured, e.g. "calibration loss (1000 samples)" or "held-out quadratic (250 of 1000 rows)".</param>
/// <param name="Grid">The λ tried, ascending (NaN alone when λ was fixed and only η was searched).</param>
/// <param name="Values">The criterion of each λ (same order; the lowest over η; +∞ where the result was not finite).</param>
/// <param name="Chosen">The λ kept.</param>
public sealed record DampingSelection(string Criterion, IReadOnlyList<double> Grid, IReadOnlyList<double> Values, double Chosen)
{
    /// <summary>The standard error of each value (same order; 0 where the criterion has none).</summary>
    public IReadOnlyList<double> StandardErrors { get; init; } = [];

    /// <summary>The WoodTaylor steps η tried with every λ; empty when η was not searched.</summary>
    public IReadOnlyList<double> GradientSteps { get; init; } = [];

    /// <summary>The η kept (the fixed η when none was searched).</summary>
    public double ChosenGradientStep { get; init; }
}
