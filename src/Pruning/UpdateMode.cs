namespace WoodFisher.Pruning;

/// <summary>How the kept weights compensate for the pruned ones (Q = all pruned coordinates after selection).</summary>
public enum UpdateMode
{
    /// <summary>No compensation: w_Q ← 0, the rest unchanged.</summary>
    None,

    /// <summary>
    /// Sum of single-weight OBS updates, as in the paper's code: δ = −Σ_{q∈Q} w_q H⁻¹e_q/[H⁻¹]_qq (WoodTaylor:
    /// δ = −H⁻¹g − Σ_{q∈Q} H⁻¹e_q (w_q − [H⁻¹g]_q)/[H⁻¹]_qq), then w_Q ← 0 exactly.
    /// </summary>
    Independent,

    /// <summary>
    /// Exact multi-weight OBS per block: δ = −H⁻¹E_Q([H⁻¹]_QQ)⁻¹w_Q (WoodTaylor: the same applied to w′ = w − H⁻¹g),
    /// through <see cref="IInverseCurvature.ObsUpdate"/>. The default.
    /// </summary>
    Joint,
}
