namespace WoodFisher.Pruning;

/// <summary>
/// How damping λ enters the Kronecker factors. Either way (A + αI) ⊗ (G + βI) with αβ = λ approximates
/// A ⊗ G + λI; the cross terms αA⊗I + βI⊗G are the price of keeping the Kronecker form.
/// </summary>
public enum KfacDamping
{
    /// <summary>
    /// Martens &amp; Grosse (2015) π-correction: α = π√λ, β = √λ/π with π = √((tr A / n_A) / (tr G / out)),
    /// which balances the two cross terms; π = 1 when a trace is zero.
    /// </summary>
    PiCorrected,

    /// <summary>α = β = √λ.</summary>
    Plain,
}
