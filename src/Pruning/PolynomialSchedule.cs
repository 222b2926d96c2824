namespace WoodFisher.Pruning;

/// <summary>
/// Gradual pruning schedule of Zhu &amp; Gupta (2017): at steps t = t₀, t₀ + Δt, …, t₁ (t in epochs or iterations)
/// the target sparsity is s_t = s_f + (s_i − s_f)(1 − (t − t₀)/(t₁ − t₀))³; 0 before t₀, s_f from t₁ on.
/// </summary>
/// <param name="initialSparsity">s_i ∈ [0, 1).</param>
/// <param name="finalSparsity">s_f ∈ [s_i, 1).</param>
/// <param name="start">t₀ ≥ 0: first pruning step.</param>
/// <param name="end">t₁ ≥ t₀: last pruning step (reached even when not a multiple of Δt past t₀).</param>
/// <param name="frequency">Δt ≥ 1 between pruning steps.</param>
/// <exception cref="ArgumentOutOfRangeException">A value lies outside its range.</exception>
public sealed class PolynomialSchedule(double initialSparsity, double finalSparsity, int start, int end, int frequency)
{
    /// <summary>s_i.</summary>
    public double InitialSparsity { get; } = MaskSelection.CheckSparsity(initialSparsity, nameof(initialSparsity));

    /// <summary>s_f.</summary>
    public double FinalSparsity { get; } = MaskSelection.CheckSparsity(finalSparsity, nameof(finalSparsity)) >= initialSparsity ? finalSparsity
        : throw new ArgumentOutOfRangeException(nameof(finalSparsity), finalSparsity, $"Final sparsity must be at least the initial sparsity {initialSparsity}.");

    /// <summary>t₀.</summary>
    public int Start { get; } = start >= 0 ? start : throw new ArgumentOutOfRangeException(nameof(start), start, "The first pruning step must be non-negative.");

    /// <summary>t₁.</summary>
    public int End { get; } = end >= start ? end : throw new ArgumentOutOfRangeException(nameof(end), end, $"The last pruning step must be at least the first, {start}.");

    /// <summary>Δt.</summary>
    public int Frequency { get; } = frequency >= 1 ? frequency : throw new ArgumentOutOfRangeException(nameof(frequency), frequency, "The steps between pruning steps must be at least 1.");

    /// <summary>s_t: 0 for t &lt; t₀, s_f + (s_i − s_f)(1 − (t − t₀)/(t₁ − t₀))³ on [t₀, t₁], s_f after (s_f at t₀ when t₀ = t₁).</summary>
    public double SparsityAt(int t)
    {
        if (t < Start)
        {
            return 0;
        }

        if (t >= End)
        {
            return FinalSparsity;
        }

        var r = 1 - ((double)(t - Start) / (End - Start));
        return FinalSparsity + ((InitialSparsity - FinalSparsity) * r * r * r);
    }

    /// <summary>Whether t is a pruning step: t₀ ≤ t ≤ t₁ and (t − t₀) mod Δt = 0, or t = t₁.</summary>
    public bool IsPruningStep(int t) => t >= Start && t <= End && ((t - Start) % Frequency == 0 || t == End);

    /// <summary>All pruning steps t₀, t₀ + Δt, …, t₁ with their targets.</summary>
    public IEnumerable<(int Step, double Sparsity)> Steps()
    {
        for (var t = Start; t <= End; t++)
        {
            if (IsPruningStep(t))
            {
                yield return (t, SparsityAt(t));
            }
        }
    }
}
