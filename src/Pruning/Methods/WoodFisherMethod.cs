using WoodFisher.Kernels;
using WoodFisher.Models;

namespace WoodFisher.Pruning.Methods;

/// <summary>
/// <c>woodfisher</c>: OBS with the block-diagonal WoodFisher inverse F̂⁻¹, F̂ = λI + (1/N)Σₙ gₙgₙᵀ per block of c
/// coordinates (blocks restart at each segment), built by Woodbury updates (<see cref="WoodFisherCurvature"/>).
/// </summary>
internal class WoodFisherMethod : PruningMethod
{
    private static readonly string[] WoodFisherKeys =
        [MethodSpec.NameKey, "block", "damping", "samples", "minibatch", "seed", "strategy", "backend", "precision", "update", "selection", "recompute", "stepping"];

    public WoodFisherMethod()
        : base("woodfisher", "OBS with the block-diagonal WoodFisher inverse", WoodFisherKeys, "wf")
    {
    }

    private protected WoodFisherMethod(string name, string summary, IReadOnlyList<string> extraKeys)
        : base(name, summary, [.. WoodFisherKeys, .. extraKeys])
    {
    }

    public override IInverseCurvature FromGradients(IGradientSource gradients, EstimatorSpec spec)
    {
        ArgumentNullException.ThrowIfNull(gradients);
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        return WoodFisherCurvature.FromGradients(gradients, Options(spec, gradients.Segments));
    }

    /// <summary>The kernel options of <paramref name="spec"/> over columns split into <paramref name="segments"/>.</summary>
    internal static WoodFisherOptions Options(EstimatorSpec spec, IReadOnlyList<int>? segments) => new()
    {
        BlockSize = spec.BlockSize,
        Damping = spec.DampingValue,
        Normalizer = spec.Normalizer,
        MiniBatch = spec.MiniBatch,
        Segments = segments,
        Strategy = spec.Strategy,
        Backend = spec.Backend,
        Precision = spec.Precision,
    };
}

/// <summary>
/// <c>woodtaylor</c>: the WoodFisher inverse with the first-order term: ρ_q = (w_q − [H⁻¹g]_q)²/(2[H⁻¹]_qq) and the update
/// applied to w − ηH⁻¹g (<see cref="WoodTaylorScore"/>, η = <see cref="PrunerOptions.GradientStep"/>).
/// </summary>
internal sealed class WoodTaylorMethod() : WoodFisherMethod("woodtaylor", "WoodFisher with the loss-gradient term", ["taylor-step"])
{
    public override bool UsesLossGradient => true;

    public override double[] Score(ReadOnlySpan<double> weights, IInverseCurvature inverse, ReadOnlySpan<double> inverseTimesGradient)
    {
        ArgumentNullException.ThrowIfNull(inverse);
        var scores = new double[weights.Length];
        WoodTaylorScore.Compute(weights, inverseTimesGradient, inverse.Diagonal(), scores);
        return scores;
    }
}
