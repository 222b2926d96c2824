using WoodFisher.Kernels;
using WoodFisher.Models;
using WoodFisher.Pruning;

namespace WoodFisher.Cli.Infrastructure;

/// <summary>Settings of one model-mode pruning run.</summary>
internal sealed record ModelPruneSettings
{
    public required CliMethod Method { get; init; }
    public UpdateMode Update { get; init; } = UpdateMode.Joint;
    public double Sparsity { get; init; }
    public int BlockSize { get; init; } = 100;
    public Damping Damping { get; init; } = Damping.Auto;
    public int FisherSamples { get; init; } = 1000;
    public int FisherMiniBatch { get; init; } = 1;
    public int Recompute { get; init; } = 1;
    public SparsityStepping Stepping { get; init; } = SparsityStepping.Cubic;
    public BackendKind Backend { get; init; } = BackendKind.Auto;
    public WoodburyStrategy Strategy { get; init; } = WoodburyStrategy.Auto;
    public Precision Precision { get; init; } = Precision.Float32;
    public int? Seed { get; init; }
    public double? GradientStep { get; init; }

    public void Validate()
    {
        if (GradientStep is { } eta)
            CliParse.TaylorStep(eta);
        CliParse.Sparsity(Sparsity);
        CliParse.Positive(BlockSize, "--block");
        CliParse.Positive(FisherSamples, "--fisher-samples");
        CliParse.Positive(FisherMiniBatch, "--fisher-minibatch");
        CliParse.Positive(Recompute, "--recompute");
    }

    /// <summary>
    /// Rejects more Fisher samples than the training set holds (methods that use gradients only): a silently smaller
    /// Fisher would make the run, and its report, claim a sample count it never used.
    /// </summary>
    public void CheckSamples(int available)
    {
        if (EstimatorSpec.ForMethod(Method.Method) != EstimatorKind.Identity && FisherSamples > available)
            throw new ArgumentException($"--fisher-samples {FisherSamples} exceeds the {available} training samples; pass --fisher-samples {available} or fewer");
    }

    /// <summary>The estimator this run builds (identity for magnitude) from <paramref name="available"/> training samples.</summary>
    public EstimatorSpec Estimator(int available)
    {
        CheckSamples(available);
        return new()
        {
            Kind = EstimatorSpec.ForMethod(Method.Method),
            BlockSize = BlockSize,
            Damping = Damping,
            Samples = Math.Min(FisherSamples, available),
            MiniBatch = FisherMiniBatch,
            Backend = Backend,
            Strategy = Strategy,
            Precision = Precision,
            Seed = Seed,
        };
    }

    /// <summary>What a <see cref="PruningReport"/> records of these settings (no estimator settings for magnitude, which uses none).</summary>
    public PruningSettings ReportSettings() => EstimatorSpec.ForMethod(Method.Method) == EstimatorKind.Identity
        ? new PruningSettings { GradientStep = GradientStep }
        : new PruningSettings
        {
            Damping = Damping.IsAuto ? null : Damping.Value,
            BlockSize = BlockSize,
            FisherSamples = FisherSamples,
            FisherMiniBatch = FisherMiniBatch,
            GradientStep = GradientStep,
            Precision = Precision,
            Backend = Backend,
            Seed = Seed,
        };

    public PrunerOptions Options(ParameterSelection<float> selection, bool biasesPrunable) => new()
    {
        Method = Method.Method,
        Update = Update,
        Sparsity = Sparsity,
        Selection = Method.Selection,
        Segments = selection.Segments,
        PrunableSegments = selection.Entries.Select(e => e.IsPrunable || biasesPrunable).ToArray(),
        RecomputeSteps = Recompute,
        Stepping = Stepping,
        GradientStep = GradientStep ?? 1,
        GradientStepGrid = GradientStep is null ? PrunerOptions.DefaultGradientSteps : null,
    };
}
