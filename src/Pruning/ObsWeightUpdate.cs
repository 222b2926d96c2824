namespace WoodFisher.Pruning;

/// <summary>Applies an <see cref="UpdateMode"/> to the weights for a pruned set Q.</summary>
public static class ObsWeightUpdate
{
    /// <summary>Updates <paramref name="weights"/> in place; afterwards w_Q = 0 exactly.</summary>
    /// <param name="mode">None, independent (sum of single OBS updates) or joint (exact per block).</param>
    /// <param name="inverse">H⁻¹.</param>
    /// <param name="weights">w (length d).</param>
    /// <param name="remove">Q: true = pruned (length d). Include weights pruned earlier (w_q = 0) so they stay at zero.</param>
    /// <param name="inverseTimesGradient">H⁻¹g for WoodTaylor (length d), or empty for plain OBS (g = 0).</param>
    public static void Apply(UpdateMode mode, IInverseCurvature inverse, Span<double> weights, ReadOnlySpan<bool> remove, ReadOnlySpan<double> inverseTimesGradient = default)
    {
        ArgumentNullException.ThrowIfNull(inverse);
        var d = inverse.Dimension;
        if (weights.Length != d || remove.Length != d || (!inverseTimesGradient.IsEmpty && inverseTimesGradient.Length != d))
        {
            throw new ArgumentException($"Weights, removal flags and H⁻¹g must have length d = {d}, got {weights.Length}, {remove.Length} and {inverseTimesGradient.Length}.");
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
                        if (remove[q])
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

                inverse.ObsUpdate(weights, remove);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown update mode.");
        }

        for (var q = 0; q < d; q++)
        {
            if (remove[q])
            {
                weights[q] = 0;
            }
        }
    }
}
