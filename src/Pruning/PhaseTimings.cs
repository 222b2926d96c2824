namespace WoodFisher.Pruning;

/// <summary>Wall-clock seconds per pruning phase (summed over recompute steps).</summary>
public sealed record PhaseTimings
{
    /// <summary>Computing gradients (per-sample gradients, loss gradient).</summary>
    public double Gradients { get; init; }

    /// <summary>Building the inverse-curvature estimate.</summary>
    public double Inverse { get; init; }

    /// <summary>Scoring and selecting the pruned set.</summary>
    public double Selection { get; init; }

    /// <summary>Applying the weight update.</summary>
    public double Update { get; init; }

    /// <summary>Sum of the four phases.</summary>
    public double Total => Gradients + Inverse + Selection + Update;

    /// <summary>Phase-wise sum.</summary>
    public static PhaseTimings operator +(PhaseTimings a, PhaseTimings b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return new PhaseTimings
        {
            Gradients = a.Gradients + b.Gradients,
            Inverse = a.Inverse + b.Inverse,
            Selection = a.Selection + b.Selection,
            Update = a.Update + b.Update,
        };
    }

    /// <summary>Phase-wise sum (named alternative to the operator).</summary>
    public PhaseTimings Add(PhaseTimings other) => this + other;
}
