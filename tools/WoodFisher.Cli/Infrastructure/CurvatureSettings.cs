using System.ComponentModel;
using System.Globalization;
using Spectre.Console.Cli;
using WoodFisher.IO;
using WoodFisher.Kernels;

namespace WoodFisher.Cli.Infrastructure;

/// <summary>
/// The options that define a WoodFisher inverse F̂⁻¹, F̂ = λI + (1/N) Σₙ gₙgₙᵀ (block-diagonal, block size c), shared by
/// <c>fisher</c> and <c>ihvp</c>.
/// </summary>
internal class CurvatureSettings : CommandSettings
{
    [CommandOption("--grads <FILE>")]
    [Description("Gradients G: a 2-D (m × d) float32 or float64 C-order .npy file, one gradient per row.")]
    public string Grads { get; init; } = "";

    [CommandOption("--block <C>")]
    [Description("Block size c (≥ 1).")]
    public int Block { get; init; } = 128;

    [CommandOption("--damping <LAMBDA>")]
    [Description("Damping λ (> 0).")]
    public double Damping { get; init; } = 1e-5;

    [CommandOption("--normalizer <N>")]
    [Description("Normalizer N in GᵀG/N (default: the number of gradients after mini-batch averaging).")]
    public double? Normalizer { get; init; }

    [CommandOption("--minibatch <B>")]
    [Description("Average rows in groups of B before they enter (the paper's Fisher mini-batch).")]
    public int MiniBatch { get; init; } = 1;

    [CommandOption("--segments <LIST>")]
    [Description("Layer lengths n1,n2,... summing to d; blocks restart at each boundary.")]
    public string? Segments { get; init; }

    [CommandOption("--layout <JSON>")]
    [Description("The layout JSON of G's columns (as grads writes it): blocks restart at each tensor; instead of --segments.")]
    public string? Layout { get; init; }

    [CommandOption("--strategy <S>")]
    [Description("auto, rank1, rankk or dense.")]
    public string Strategy { get; init; } = "auto";

    [CommandOption("--backend <B>")]
    [Description("auto, cpu or ilgpu.")]
    public string Backend { get; init; } = "auto";

    [CommandOption("--precision <P>")]
    [Description("f32 or f64: storage precision of the blocks.")]
    public string Precision { get; init; } = "f32";

    /// <summary>The library options these settings describe (throws <see cref="ArgumentException"/> on a bad value).</summary>
    public WoodFisherOptions ToOptions()
    {
        if (string.IsNullOrEmpty(Grads))
            throw new ArgumentException("--grads is required (an m × d .npy file of gradients)");
        if (Block < 1)
            throw new ArgumentException($"--block must be at least 1 (got {Block})");
        if (!(Damping > 0) || !double.IsFinite(Damping))
            throw new ArgumentException($"--damping must be positive and finite (got {Damping.ToString(CultureInfo.InvariantCulture)}); try 1e-5");
        if (Normalizer is { } n && (!(n > 0) || !double.IsFinite(n)))
            throw new ArgumentException($"--normalizer must be positive and finite (got {n.ToString(CultureInfo.InvariantCulture)})");
        if (MiniBatch < 1)
            throw new ArgumentException($"--minibatch must be at least 1 (got {MiniBatch})");
        if (Layout is not null && Segments is not null)
            throw new ArgumentException("give --layout or --segments, not both");
        return new WoodFisherOptions
        {
            BlockSize = Block,
            Damping = Damping,
            Normalizer = Normalizer,
            MiniBatch = MiniBatch,
            Segments = Layout is not null ? GradientLayout.Read(CliFiles.RequireFile(Layout)).Segments : Segments is null ? null : ParseSegments(Segments),
            Strategy = ParseStrategy(Strategy),
            Backend = ParseBackend(Backend),
            Precision = ParsePrecision(Precision),
        };
    }

    /// <summary>Parses <c>n1,n2,...</c> (each ≥ 1).</summary>
    public static int[] ParseSegments(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var result = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out result[i]) || result[i] < 1)
                throw new ArgumentException($"--segments: '{parts[i]}' is not a positive integer (expected n1,n2,... summing to d)");
        }
        return result;
    }

    public static WoodburyStrategy ParseStrategy(string s) => s.ToLowerInvariant() switch
    {
        "auto" => WoodburyStrategy.Auto,
        "rank1" => WoodburyStrategy.Rank1,
        "rankk" => WoodburyStrategy.RankK,
        "dense" => WoodburyStrategy.Dense,
        _ => throw new ArgumentException($"--strategy: '{s}' is not one of auto, rank1, rankk, dense"),
    };

    public static BackendKind ParseBackend(string s) => s.ToLowerInvariant() switch
    {
        "auto" => BackendKind.Auto,
        "cpu" => BackendKind.Cpu,
        "ilgpu" => BackendKind.Ilgpu,
        _ => throw new ArgumentException($"--backend: '{s}' is not one of auto, cpu, ilgpu"),
    };

    public static Precision ParsePrecision(string s) => s.ToLowerInvariant() switch
    {
        "f32" or "float32" => Kernels.Precision.Float32,
        "f64" or "float64" => Kernels.Precision.Float64,
        _ => throw new ArgumentException($"--precision: '{s}' is not f32 or f64"),
    };
}
