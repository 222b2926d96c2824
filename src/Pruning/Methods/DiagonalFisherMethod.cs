using WoodFisher.Models;

namespace WoodFisher.Pruning.Methods;

/// <summary><c>diagfisher</c>: OBS with the diagonal empirical Fisher, [H⁻¹]_qq = 1/(λ + (1/N)Σₙ g_nq²) (OBD-style).</summary>
internal sealed class DiagonalFisherMethod() : PruningMethod("diagfisher", "OBS with the diagonal empirical Fisher",
    [MethodSpec.NameKey, "damping", "samples", "minibatch", "seed", "update", "selection", "recompute", "stepping"], "diagonal-fisher", "obd")
{
    public override IInverseCurvature FromGradients(IGradientSource gradients, EstimatorSpec spec)
    {
        ArgumentNullException.ThrowIfNull(gradients);
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        if (spec.MiniBatch != 1)
        {
            throw new NotSupportedException($"diagfisher squares each gradient row as given; average the rows in groups of {spec.MiniBatch} before (or use woodfisher, which averages them).");
        }

        return DiagonalFisherCurvature.FromGradients(gradients, spec.DampingValue, spec.Normalizer);
    }
}
