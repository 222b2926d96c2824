namespace WoodFisher.Pruning.Studies;

/// <summary>
/// The loss L(w) a study measures actual loss changes with: w is the vector of studied coordinates (length
/// <see cref="Dimension"/>, the same order as the curvature estimates), the rest of the model held fixed.
/// </summary>
public interface ILossEvaluator
{
    /// <summary>Number of coordinates d.</summary>
    int Dimension { get; }

    /// <summary>L(w) for <paramref name="weights"/> (length d). Implementations must not keep the span.</summary>
    double Loss(ReadOnlySpan<double> weights);
}
