using WoodFisher.Pruning.Internal;

namespace WoodFisher.Pruning;

/// <summary>Magnitude saliency ρ_q = |w_q| (the ranking of OBS with H⁻¹ = I, whose score is w_q²/2).</summary>
public static class MagnitudeScore
{
    /// <summary>Writes ρ_q = |w_q| (both length d).</summary>
    public static void Compute(ReadOnlySpan<double> weights, Span<double> scores)
    {
        ScoreChecks.Lengths(weights.Length, weights.Length, scores.Length);
        for (var q = 0; q < weights.Length; q++)
        {
            scores[q] = Math.Abs(weights[q]);
        }
    }

    /// <summary>ρ = |w| (length d).</summary>
    public static double[] Compute(ReadOnlySpan<double> weights)
    {
        var s = new double[weights.Length];
        Compute(weights, s);
        return s;
    }
}
