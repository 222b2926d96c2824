using System.Diagnostics;
using WoodFisher.Models;

namespace WoodFisher.Pruning.Methods;

/// <summary>
/// <c>kfac</c>: OBS with the K-FAC inverse (A + αI)⁻¹ ⊗ (G + βI)⁻¹ per layer (<see cref="KfacCurvature"/>); joint updates
/// act inside blocks of c coordinates. The factors come from the model's activations and back-propagated gradients.
/// </summary>
internal sealed class KfacMethod() : PruningMethod("kfac", "OBS with the K-FAC Kronecker-factored inverse",
    [MethodSpec.NameKey, "block", "damping", "samples", "seed", "update", "selection", "recompute", "stepping"], "k-fac")
{
    public override bool NeedsModel => true;

    internal override CurvatureEstimate FromModel(ModelCurvature model, float[] x, int[] labels, EstimatorSpec spec)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        var clock = Stopwatch.StartNew();
        var layers = model.KfacLayers(x, labels, labels.Length);
        var factorSeconds = clock.Elapsed.TotalSeconds;
        var inverse = new KfacCurvature(layers, spec.DampingValue, spec.KfacDamping, spec.BlockSizeFor(model.Selection.Dimension));
        return new CurvatureEstimate(inverse) { GradientSeconds = factorSeconds, InverseSeconds = clock.Elapsed.TotalSeconds - factorSeconds };
    }

    /// <summary>The layer factors, built into an inverse per λ. They are not restricted to the mask: a Kronecker factor has no per-weight rows.</summary>
    internal override Func<double, IInverseCurvature> ModelStatistics(ModelCurvature model, float[] x, int[] labels, EstimatorSpec spec, bool[] mask)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(spec);
        var layers = model.KfacLayers(x, labels, labels.Length);
        var c = spec.BlockSizeFor(model.Selection.Dimension);
        return lambda => new KfacCurvature(layers, lambda, spec.KfacDamping, c);
    }
}
