using WoodFisher.Pruning.Internal;

namespace WoodFisher.Pruning;

/// <summary>
/// WoodTaylor saliency: OBS away from a minimum, where the loss gradient g is not zero.
/// </summary>
/// <remarks>
/// Minimising the local model L(w + δ) ≈ L(w) + gᵀδ + ½δᵀHδ subject to e_qᵀ(w + δ) = 0 gives (Lagrangian,
/// g + Hδ + μe_q = 0)
/// δ* = −H⁻¹g − H⁻¹e_q (w_q − [H⁻¹g]_q)/[H⁻¹]_qq,
/// with the change of the model
/// Δ_q = −½gᵀH⁻¹g + (w_q − [H⁻¹g]_q)² / (2[H⁻¹]_qq).
/// The first term is the same for every q (the Newton step every candidate shares), so the score used for selection is
/// the q-dependent part ρ_q = (w_q − [H⁻¹g]_q)²/(2[H⁻¹]_qq), which reduces to <see cref="ObsScore"/> at g = 0;
/// <see cref="SharedTerm"/> gives −½gᵀH⁻¹g so Δ_q = ρ_q + SharedTerm. The matching multi-weight update is
/// δ = −H⁻¹g − H⁻¹E_Q([H⁻¹]_QQ)⁻¹(w_Q − [H⁻¹g]_Q), i.e. the joint OBS update applied to w′ = w − H⁻¹g.
/// </remarks>
public static class WoodTaylorScore
{
    /// <summary>Writes ρ_q = (w_q − [H⁻¹g]_q)²/(2[H⁻¹]_qq).</summary>
    /// <param name="weights">w (length d).</param>
    /// <param name="inverseTimesGradient">H⁻¹g (length d).</param>
    /// <param name="inverseDiagonal">[H⁻¹]_qq (length d, &gt; 0).</param>
    /// <param name="scores">ρ (length d).</param>
    public static void Compute(ReadOnlySpan<double> weights, ReadOnlySpan<double> inverseTimesGradient, ReadOnlySpan<double> inverseDiagonal, Span<double> scores)
    {
        ScoreChecks.Lengths(weights.Length, inverseDiagonal.Length, scores.Length);
        ScoreChecks.Lengths(weights.Length, inverseTimesGradient.Length, scores.Length);
        for (var q = 0; q < weights.Length; q++)
        {
            var r = weights[q] - inverseTimesGradient[q];
            scores[q] = r * r / (2 * inverseDiagonal[q]);
        }
    }

    /// <summary>
    /// The Newton term ηH⁻¹g (length d) that the score and the update use: η = 1 is the paper's WoodTaylor, η = 0 is OBS,
    /// and 0 &lt; η &lt; 1 shortens the step (<see cref="PrunerOptions.GradientStep"/>).
    /// </summary>
    public static double[] NewtonStep(IInverseCurvature inverse, ReadOnlySpan<double> gradient, double eta = 1)
    {
        ArgumentNullException.ThrowIfNull(inverse);
        var step = inverse.Multiply(gradient);
        if (eta != 1)
        {
            for (var i = 0; i < step.Length; i++)
            {
                step[i] *= eta;
            }
        }

        return step;
    }

    /// <summary>ρ (length d) from the estimator and the loss gradient g (length d).</summary>
    public static double[] Compute(ReadOnlySpan<double> weights, ReadOnlySpan<double> gradient, IInverseCurvature inverse)
    {
        ArgumentNullException.ThrowIfNull(inverse);
        var s = new double[weights.Length];
        Compute(weights, inverse.Multiply(gradient), inverse.Diagonal(), s);
        return s;
    }

    /// <summary>The q-independent part of Δ_q: −½gᵀH⁻¹g, given g and H⁻¹g.</summary>
    public static double SharedTerm(ReadOnlySpan<double> gradient, ReadOnlySpan<double> inverseTimesGradient)
    {
        ScoreChecks.Lengths(gradient.Length, inverseTimesGradient.Length, gradient.Length);
        double s = 0;
        for (var i = 0; i < gradient.Length; i++)
        {
            s += gradient[i] * inverseTimesGradient[i];
        }

        return -0.5 * s;
    }
}
