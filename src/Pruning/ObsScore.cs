using WoodFisher.Pruning.Internal;

namespace WoodFisher.Pruning;

/// <summary>
/// Optimal Brain Surgeon saliency: the increase of the quadratic model ½δᵀHδ (at a minimum, gradient zero) when weight q
/// is removed with the optimal compensating update δ = −w_q H⁻¹e_q/[H⁻¹]_qq:
/// ρ_q = w_q² / (2[H⁻¹]_qq).
/// </summary>
public static class ObsScore
{
    /// <summary>Writes ρ_q = w_q²/(2[H⁻¹]_qq) for all q.</summary>
    /// <param name="weights">w (length d).</param>
    /// <param name="inverseDiagonal">[H⁻¹]_qq (length d, &gt; 0).</param>
    /// <param name="scores">ρ (length d).</param>
    public static void Compute(ReadOnlySpan<double> weights, ReadOnlySpan<double> inverseDiagonal, Span<double> scores)
    {
        ScoreChecks.Lengths(weights.Length, inverseDiagonal.Length, scores.Length);
        for (var q = 0; q < weights.Length; q++)
        {
            scores[q] = weights[q] * weights[q] / (2 * inverseDiagonal[q]);
        }
    }

    /// <summary>ρ (length d) from the estimator's diagonal.</summary>
    public static double[] Compute(ReadOnlySpan<double> weights, IInverseCurvature inverse)
    {
        ArgumentNullException.ThrowIfNull(inverse);
        var s = new double[weights.Length];
        Compute(weights, inverse.Diagonal(), s);
        return s;
    }
}
