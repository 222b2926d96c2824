namespace WoodFisher.Cli.Options;

/// <summary>
/// Gradients for an inverse: from a file (<c>--grads G.npy</c>, its columns described by <c>--layout</c> or
/// <c>--segments</c>) or computed from a model (<c>--model</c> and the sample options), plus the estimator options.
/// Shared by <c>fisher</c> and <c>ihvp</c>.
/// </summary>
internal class CurvatureSettings : EstimatorSettings
{
    [CommandOption("--grads <FILE>"), Help(GradientFileHelp.Grads)]
    public string? Grads { get; init; }

    [CommandOption("--layout <FILE>"), Help(GradientFileHelp.Layout)]
    public string? Layout { get; init; }

    [CommandOption("--segments <N1,N2>"), Help(GradientFileHelp.Segments)]
    public string? Segments { get; init; }

    [CommandOption("--normalizer <N>"), Help(GradientFileHelp.Normalizer)]
    public double? Normalizer { get; init; }

    public override Spectre.Console.ValidationResult Validate()
    {
        if (Normalizer is { } n)
            Check("--normalizer", n, Vocabulary.Positive);
        return base.Validate();
    }
}

/// <summary>Help texts and readers of the gradient-file options, shared by every verb that reads G.</summary>
internal static class GradientFileHelp
{
    public const string Grads = "Gradients G: an (m × d) float32 or float64 .npy, one gradient per row (streamed).";
    public const string Layout = "The layout JSON of G's columns (what grads --layout writes): its tensors' lengths are the layers.";
    public const string Segments = "Layer lengths n1,n2,... summing to d (instead of --layout); blocks restart at each.";
    public const string Normalizer = "N in GᵀG/N (default: the number of gradient rows after averaging).";

    /// <summary>The layer lengths of G's columns from <c>--layout</c> or <c>--segments</c>, checked against d; null when neither is given.</summary>
    public static int[]? ReadSegments(string? layout, string? segments, long d)
    {
        if (layout is not null && segments is not null)
            throw new UsageException("give --layout or --segments, not both");
        int[]? lengths = layout is not null ? GradientLayout.Read(CliFiles.RequireFile(layout)).Segments
            : segments is not null ? VerbSettings.Read("--segments", segments, t => Vocabulary.List(t, Vocabulary.Count)) : null;
        if (lengths is not null && lengths.Sum(v => (long)v) != d)
            throw new UsageException($"{(layout is not null ? $"--layout {layout}" : "--segments")}: the lengths sum to {lengths.Sum(v => (long)v)}, but G has d = {d} columns");
        return lengths;
    }
}
