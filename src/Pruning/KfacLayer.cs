namespace WoodFisher.Pruning;

/// <summary>
/// The Kronecker factors of one fully connected layer y = Wx + b with PyTorch layouts: weight W [out, in] row-major
/// (coordinate o·in + i), then, when <see cref="HasBias"/>, bias b [out] (coordinate out·in + o) as the next segment.
/// </summary>
/// <param name="OutFeatures">out ≥ 1.</param>
/// <param name="InFeatures">in ≥ 1.</param>
/// <param name="A">
/// Input second moment A = E[ããᵀ] (n_A × n_A row-major), ã = x, or ã = [x; 1] (n_A = in + 1, the homogeneous coordinate
/// last) when <see cref="HasBias"/>.
/// </param>
/// <param name="G">Output-gradient second moment G = E[∂ℓ/∂y (∂ℓ/∂y)ᵀ] (out × out row-major).</param>
/// <param name="HasBias">Whether the layer's coordinates include the bias segment.</param>
public sealed record KfacLayer(int OutFeatures, int InFeatures, double[] A, double[] G, bool HasBias = false)
{
    /// <summary>Size of A: in, or in + 1 with a bias.</summary>
    public int InputFactorSize => InFeatures + (HasBias ? 1 : 0);

    /// <summary>Coordinates covered: out·in, plus out with a bias.</summary>
    public int Dimension => (OutFeatures * InFeatures) + (HasBias ? OutFeatures : 0);
}
