using WoodFisher.Kernels;
using WoodFisher.Models;

namespace WoodFisher.Pruning.Methods;

/// <summary>
/// <c>woodfisher</c>: OBS with the block-diagonal WoodFisher inverse F̂⁻¹, F̂ = λI + (1/N)Σₙ gₙgₙᵀ per block of c
/// coordinates (blocks restart at each segment), built by Woodbury updates streaming rows into all blocks
/// (<see cref="WoodFisherCurvature"/>), or group of blocks by group from column slabs of a file, all resident, or, when
/// the blocks exceed the memory budget, in two passes (<see cref="GroupedWoodFisherCurvature"/>). With <c>block=full</c> (c = d), matrix-free (<see cref="FullWoodFisherCurvature"/>).
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
        if (spec.BlockSize == EstimatorSpec.FullBlockSize)
        {
            return FullWoodFisherCurvature.FromGradients(gradients, spec.DampingValue, spec.Normalizer, spec.MiniBatch);
        }

        // From a file, groups of blocks are built from column slabs read ahead of the build; blocks that do not fit the
        // budget are built group by group, twice (scores, then the update). Gradients that are computed (a model's
        // autograd) come in chunks of the plan's rows, bounded by the budget.
        var options = Options(spec, gradients.Dimension, gradients.Segments);
        var plan = Plan(gradients, spec);
        return plan is { ReadsSlabs: true }
            ? GroupedWoodFisherCurvature.Build(gradients, options, plan)
            : WoodFisherCurvature.FromGradients(gradients, options, plan?.ChunkRows ?? 256);
    }

    /// <summary>
    /// How the inverse of <paramref name="spec"/> over <paramref name="gradients"/> fits the memory budget (with
    /// <see cref="TensorPruning.VectorBytesPerWeight"/> per weight beside it), or null when the source does not know its
    /// row count.
    /// </summary>
    /// <exception cref="InsufficientMemoryException">Even two passes over groups of blocks do not fit.</exception>
    internal static PassPlan? Plan(IGradientSource gradients, EstimatorSpec spec)
    {
        if (gradients.Count < 1 || spec.BlockSize == EstimatorSpec.FullBlockSize)
        {
            return null;
        }

        var options = Options(spec, gradients.Dimension, gradients.Segments);
        var layout = BlockLayout.Create(gradients.Dimension, options.BlockSize, options.Segments);
        return PassPlan.Create(layout, gradients.Count, options, MemoryBudget.Product(gradients.Dimension, TensorPruning.VectorBytesPerWeight), gradients is IColumnGradientSource,
            factorBytes: (gradients as IFactoredGradientSource)?.FactorBytes);
    }

    /// <summary>
    /// The kernel options of <paramref name="spec"/> over <paramref name="dimension"/> columns split into
    /// <paramref name="segments"/>, with an automatic block size resolved (<see cref="EstimatorSpec.BlockSizeFor"/>).
    /// </summary>
    internal static WoodFisherOptions Options(EstimatorSpec spec, long dimension, IReadOnlyList<int>? segments) => new()
    {
        BlockSize = spec.BlockSizeFor(dimension),
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
