namespace WoodFisher.Pruning;

/// <summary>Applies an <see cref="UpdateMode"/> to the weights for a pruned set Q.</summary>
public static class ObsWeightUpdate
{
    /// <summary>Updates <paramref name="weights"/> in place; afterwards w_Q = 0 exactly.</summary>
    /// <param name="mode">None, independent (sum of single OBS updates) or joint (exact per block).</param>
    /// <param name="inverse">H⁻¹.</param>
    /// <param name="weights">w (length d).</param>
    /// <param name="mask">Mask (length d): true = kept, false = pruned (Q). Leave weights pruned earlier (w_q = 0) false so they stay at zero.</param>
    /// <param name="inverseTimesGradient">H⁻¹g for WoodTaylor (length d), or empty for plain OBS (g = 0).</param>
    public static void Apply(UpdateMode mode, IInverseCurvature inverse, Span<double> weights, ReadOnlySpan<bool> mask, ReadOnlySpan<double> inverseTimesGradient = default)
    {
        ArgumentNullException.ThrowIfNull(inverse);
        var d = inverse.Dimension;
        if (weights.Length != d || mask.Length != d || (!inverseTimesGradient.IsEmpty && inverseTimesGradient.Length != d))
        {
            throw new ArgumentException($"Weights, mask and H⁻¹g must have length d = {d}, got {weights.Length}, {mask.Length} and {inverseTimesGradient.Length}.");
        }

        var hasGradient = !inverseTimesGradient.IsEmpty;
        switch (mode)
        {
            case UpdateMode.None:
                break;
            case UpdateMode.Independent:
                {
                    var diag = inverse.Diagonal();
                    var u = new double[d];
                    for (var q = 0; q < d; q++)
                    {
                        if (!mask[q])
                        {
                            u[q] = (weights[q] - (hasGradient ? inverseTimesGradient[q] : 0)) / diag[q];
                        }
                    }

                    var delta = inverse.Multiply(u);
                    for (var i = 0; i < d; i++)
                    {
                        weights[i] -= delta[i] + (hasGradient ? inverseTimesGradient[i] : 0);
                    }

                    break;
                }

            case UpdateMode.Joint:
                if (hasGradient)
                {
                    for (var i = 0; i < d; i++)
                    {
                        weights[i] -= inverseTimesGradient[i];
                    }
                }

                inverse.ObsUpdate(weights, mask);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown update mode.");
        }

        for (var q = 0; q < d; q++)
        {
            if (!mask[q])
            {
                weights[q] = 0;
            }
        }
    }
}
