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
    public double Damping { get; init; } = 1e-5;
    public int FisherSamples { get; init; } = 1000;
    public int FisherMiniBatch { get; init; } = 1;
    public int Recompute { get; init; } = 1;
    public SparsityStepping Stepping { get; init; } = SparsityStepping.Cubic;
    public BackendKind Backend { get; init; } = BackendKind.Auto;
    public Precision Precision { get; init; } = Precision.Float32;
    public int? Seed { get; init; }
    public double GradientStep { get; init; } = 1;

    public void Validate()
    {
        CliParse.TaylorStep(GradientStep);
        CliParse.Sparsity(Sparsity);
        CliParse.Damping(Damping);
        CliParse.Positive(BlockSize, "--block");
        CliParse.Positive(FisherSamples, "--fisher-samples");
        CliParse.Positive(FisherMiniBatch, "--fisher-minibatch");
        CliParse.Positive(Recompute, "--recompute");
    }

    /// <summary>The estimator this run builds (identity for magnitude).</summary>
    public EstimatorSpec Estimator(int available) => new()
    {
        Kind = EstimatorSpec.ForMethod(Method.Method),
        BlockSize = BlockSize,
        Damping = Damping,
        Samples = Math.Min(FisherSamples, available),
        MiniBatch = FisherMiniBatch,
        Backend = Backend,
        Precision = Precision,
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
        GradientStep = GradientStep,
    };
}
