using WoodFisher.Kernels;

namespace WoodFisher.Models;

/// <summary>
/// A gradient source that can also give all its rows as factors (<see cref="IGradientRowFactors"/>), so a consumer that
/// forms block Gram matrices (the WoodFisher builder's Dense strategy) need not hold m × d entries.
/// </summary>
public interface IFactoredGradientSource : IGradientSource
{
    /// <summary>
    /// Every row from the first, as factors at the current weights, equal entry for entry to what
    /// <see cref="IGradientSource.Read"/> yields; null when the rows have no such form.
    /// </summary>
    IGradientRowFactors? Factors();

    /// <summary>Bytes <see cref="Factors"/> would hold (an upper bound), or null when it would give none; cheap to ask.</summary>
    long? FactorBytes { get; }
}
