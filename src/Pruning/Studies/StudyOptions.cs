namespace WoodFisher.Pruning.Studies;

/// <summary>Settings of <see cref="ApproximationStudy"/>.</summary>
public sealed record StudyOptions
{
    /// <summary>
    /// The estimators to compare, in table order; null = <see cref="DefaultEstimators"/> with this <see cref="Samples"/>,
    /// <see cref="Damping"/> and <see cref="Seed"/>. An <see cref="PruningMethod.Exact"/> one scores zero fidelity error by
    /// construction when it shares λ and treatment with the reference; exact estimators all use the study's one Hessian
    /// (its <see cref="Samples"/>), whatever their own sample count.
    /// </summary>
    public IReadOnlyList<EstimatorSpec>? Estimators { get; init; }

    /// <summary>The estimators the study runs: <see cref="Estimators"/>, or the defaults for these settings.</summary>
    public IReadOnlyList<EstimatorSpec> EffectiveEstimators => Estimators ?? DefaultEstimators(Samples, Damping, Seed, Treatment);

    /// <summary>Training samples N the Hessian, the Fishers and the loss changes are computed on (drawn by <see cref="Seed"/>).</summary>
    public int Samples { get; init; } = 1000;

    /// <summary>Damping λ of the exact reference (H + λI, after <see cref="Treatment"/>).</summary>
    public double Damping { get; init; } = 1e-5;

    /// <summary>How negative Hessian eigenvalues are treated in the exact reference inverse.</summary>
    public IndefiniteTreatment Treatment { get; init; } = IndefiniteTreatment.Absolute;

    /// <summary>Seed for the sample subset, the Monte-Carlo true Fisher labels and the sampled weights.</summary>
    public int Seed { get; init; }

    /// <summary>Target sparsities of the one-shot curves, each in [0, 1).</summary>
    public IReadOnlyList<double> Sparsities { get; init; } = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98];

    /// <summary>Weight updates the curves compare.</summary>
    public IReadOnlyList<UpdateMode> Updates { get; init; } = [UpdateMode.Joint, UpdateMode.Independent];

    /// <summary>Single weights removed in the loss-change study (all non-zero weights when fewer).</summary>
    public int WeightsSampled { get; init; } = 200;

    /// <summary>Block size c of the reference layout for per-block errors; null = the smallest WoodFisher c among the estimators (<see cref="EstimatorSpec.DefaultBlockSize"/> if none).</summary>
    public int? BlockSize { get; init; }

    /// <summary>Blocks kept for heat maps (the first block of each layer, up to this many).</summary>
    public int HeatmapBlocks { get; init; } = 2;

    /// <summary>Side of the top-left crop of each heat-map block.</summary>
    public int HeatmapSize { get; init; } = 40;

    /// <summary>Largest d for which the exact Hessian is formed (d Hessian-vector products and a d × d eigendecomposition).</summary>
    public int MaxExactDimension { get; init; } = 2000;

    /// <summary>Test samples the curves are evaluated on; null = all.</summary>
    public int? TestSamples { get; init; }

    /// <summary>The default estimator list (<see cref="DefaultList"/>): exact, WoodFisher c = 50 and 200, K-FAC, diagonal Fisher, magnitude (H⁻¹ = I).</summary>
    public static IReadOnlyList<EstimatorSpec> DefaultEstimators(int samples, double damping, int seed, IndefiniteTreatment treatment = IndefiniteTreatment.Absolute)
    {
        var defaults = new EstimatorSpec { Samples = samples, Damping = damping, Seed = seed, Treatment = treatment };
        return [.. DefaultList.Split(',').Select(t => EstimatorSpec.Parse(t, defaults))];
    }

    /// <summary>The default estimators as a <see cref="MethodSpec"/> list.</summary>
    public const string DefaultList = "exact,woodfisher:block=50,woodfisher:block=200,kfac,diagfisher,magnitude";
}

/// <summary>Progress of <see cref="ApproximationStudy.Run"/>: <paramref name="Done"/> of <paramref name="Total"/> steps of a phase.</summary>
/// <param name="Phase">e.g. "exact Hessian", "estimators", "fidelity", "loss change", "pruning curves".</param>
/// <param name="Done">Steps done in this phase.</param>
/// <param name="Total">Steps in this phase.</param>
public readonly record struct StudyProgress(string Phase, long Done, long Total);
