namespace WoodFisher.Pruning;

/// <summary>The spectrum of the undamped H (over all blocks) and how it was treated, as reported by <see cref="DenseCurvature"/>.</summary>
/// <param name="NegativeEigenvalues">Number of eigenvalues μᵢ &lt; 0 of H (before damping).</param>
/// <param name="MinEigenvalue">min μᵢ of H.</param>
/// <param name="MaxEigenvalue">max μᵢ of H.</param>
/// <param name="Damping">λ added to every (treated) eigenvalue.</param>
/// <param name="Treatment">How negative eigenvalues were treated.</param>
public sealed record SpectrumSummary(int NegativeEigenvalues, double MinEigenvalue, double MaxEigenvalue, double Damping, IndefiniteTreatment Treatment);
