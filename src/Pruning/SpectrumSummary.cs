namespace WoodFisher.Pruning;

/// <summary>The spectrum of the undamped H (over all blocks) and how it was treated, as reported by <see cref="DenseCurvature"/>.</summary>
/// <param name="NegativeEigenvalues">Number of eigenvalues μᵢ &lt; 0 of H (before damping).</param>
/// <param name="MinEigenvalue">min μᵢ of H.</param>
/// <param name="MaxEigenvalue">max μᵢ of H.</param>
/// <param name="Damping">λ added to every (treated) eigenvalue.</param>
/// <param name="Treatment">How negative eigenvalues were treated.</param>
/// <param name="NegativeBeyondNoise">
/// Eigenvalues μᵢ &lt; −<see cref="NoiseTolerance"/>·max|μ|: the negative ones that rounding cannot explain. A Hessian built
/// from float32 Hessian-vector products carries errors of about 1e-7·‖H‖, so near-zero eigenvalues of either sign below
/// that level (there are many in an over-parameterised layer) are not evidence of indefiniteness, and their count
/// depends on the eigensolver's rounding.
/// </param>
public sealed record SpectrumSummary(int NegativeEigenvalues, double MinEigenvalue, double MaxEigenvalue, double Damping, IndefiniteTreatment Treatment, int NegativeBeyondNoise = 0)
{
    /// <summary>Relative threshold (of max|μ|) below which a negative eigenvalue counts as rounding noise: 1e-6.</summary>
    public const double NoiseTolerance = 1e-6;
}
