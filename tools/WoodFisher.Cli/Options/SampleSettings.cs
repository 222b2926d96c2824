namespace WoodFisher.Cli.Options;

/// <summary>Which samples give gradients and over which coordinates: <c>--split --samples --minibatch --seed --layers --include-bias</c>.</summary>
internal class SampleSettings : ModelSettings
{
    [CommandOption("--split <SPLIT>"), Help("Data split the gradients are computed on: train or test."), DefaultValue("train")]
    public string Split { get; init; } = "train";

    [CommandOption("--samples <M>"), Help("Samples M whose gradients enter: the first M in file order, or M drawn by --seed."), DefaultValue(EstimatorSpec.DefaultSamples)]
    public int Samples { get; init; }

    [CommandOption("--minibatch <B>"), Help("Samples averaged per gradient row (the paper's Fisher mini-batch; M must be a multiple of B)."), DefaultValue(1)]
    public int Minibatch { get; init; }

    [CommandOption("--seed <N>"), Help("Seed of the random draws (samples; initialisation and shuffles where the verb trains). Without it: the first samples, seed 0.")]
    public int? Seed { get; init; }

    [CommandOption("--layers <NAMES>"), Help("Comma-separated layers (fc1,fc2) or parameter names (fc1.weight) whose weights are used (default: every Linear/Conv2d weight).")]
    public string? Layers { get; init; }

    [CommandOption("--include-bias"), Help("Also the biases of the selected layers.")]
    public bool IncludeBias { get; init; }

    public override Spectre.Console.ValidationResult Validate()
    {
        Read("--split", Split, ParseSplit);
        Check("--samples", Samples, Vocabulary.Count);
        Check("--minibatch", Minibatch, Vocabulary.Count);
        return base.Validate();
    }

    /// <summary>train or test.</summary>
    public static string ParseSplit(string text) => text.Trim().ToLowerInvariant() is "train" or "test" ? text.Trim().ToLowerInvariant() : throw new FormatException($"\"{text}\" is not one of train, test");
}
