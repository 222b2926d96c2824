using WoodFisher.Models;

namespace WoodFisher.Pruning.Methods;

/// <summary>
/// <c>magnitude</c>: ρ_q = |w_q| with H⁻¹ = I (<see cref="IdentityCurvature"/>). No gradients are read and no other weight
/// moves, so its update is <see cref="UpdateMode.None"/> whatever is requested. Layer-wise magnitude pruning is this method
/// with <see cref="SelectionMode.LayerwiseUniform"/>.
/// </summary>
internal sealed class MagnitudeMethod() : PruningMethod("magnitude", "|w|, no curvature (H⁻¹ = I)", [MethodSpec.NameKey, "selection", "recompute", "stepping"],
    "identity", "global-magnitude")
{
    public override bool UsesCurvature => false;

    public override UpdateMode EffectiveUpdate(UpdateMode requested) => UpdateMode.None;

    public override double[] Score(ReadOnlySpan<double> weights, IInverseCurvature inverse, ReadOnlySpan<double> inverseTimesGradient) =>
        MagnitudeScore.Compute(weights);

    public override IInverseCurvature FromGradients(IGradientSource gradients, EstimatorSpec spec)
    {
        ArgumentNullException.ThrowIfNull(gradients);
        return new IdentityCurvature(gradients.Dimension);
    }

    internal override CurvatureEstimate FromModel(ModelCurvature model, float[] x, int[] labels, EstimatorSpec spec) =>
        new(new IdentityCurvature(model.Selection.Dimension));

    internal override Func<double, IInverseCurvature> ModelStatistics(ModelCurvature model, float[] x, int[] labels, EstimatorSpec spec, bool[] mask)
    {
        ArgumentNullException.ThrowIfNull(model);
        var d = model.Selection.Dimension;
        return _ => new IdentityCurvature(d);
    }
}
