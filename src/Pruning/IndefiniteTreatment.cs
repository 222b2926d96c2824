namespace WoodFisher.Pruning;

/// <summary>
/// How <see cref="DenseCurvature"/> turns a symmetric, possibly indefinite H (eigenvalues μᵢ) and damping λ into a
/// positive definite matrix before inverting. The exact Hessian of a trained network is usually indefinite, and
/// damping alone need not fix that: each choice is reported in <see cref="SpectrumSummary"/>.
/// </summary>
public enum IndefiniteTreatment
{
    /// <summary>Eigenvalues μᵢ + λ. Throws <see cref="CurvatureNotPositiveDefiniteException"/> when min μᵢ + λ ≤ 0.</summary>
    DampingOnly,

    /// <summary>Eigenvalues max(μᵢ, 0) + λ (negative curvature clipped to zero, then damped; needs λ &gt; 0).</summary>
    Clip,

    /// <summary>Eigenvalues |μᵢ| + λ (saddle-free Newton style; needs λ &gt; 0 unless H is nonsingular).</summary>
    Absolute,
}
