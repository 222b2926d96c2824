namespace WoodFisher.Cli.Options;

/// <summary>The training options, whichever settings class declares them (<c>train</c>'s, or <see cref="TrainingSettings"/>).</summary>
internal interface ITrainingOptions
{
    int? Epochs { get; }

    int Batch { get; }

    double Lr { get; }

    double Momentum { get; }

    bool Nesterov { get; }

    double WeightDecay { get; }

    string Schedule { get; }

    int? TrainSamples { get; }

    int Seed { get; }
}

/// <summary>Help texts, checks and the <see cref="TrainerOptions"/> of the training options: one place for all verbs that train.</summary>
internal static class TrainingHelp
{
    public const string Epochs = "Epochs of training.";
    public const string Batch = "Mini-batch size.";
    public const string Lr = "Learning rate η > 0 of SGD.";
    public const string Momentum = "SGD momentum μ in [0, 1).";
    public const string Nesterov = "Nesterov momentum.";
    public const string WeightDecay = "L2 weight decay ≥ 0.";
    public const string Schedule = "Learning rate over the epochs: constant, step (×0.1 every ⌈E/3⌉ epochs) or cosine (to 0 at the last epoch).";
    public const string TrainSamples = "Train on the first N training samples only (default: all).";

    public static void Validate(ITrainingOptions o)
    {
        if (o.Epochs is { } e)
            VerbSettings.Check("--epochs", e, Vocabulary.Count);
        VerbSettings.Check("--batch", o.Batch, Vocabulary.Count);
        VerbSettings.Check("--lr", o.Lr, Vocabulary.Positive);
        VerbSettings.Check("--momentum", o.Momentum, t => Vocabulary.NonNegative(t) < 1 ? Vocabulary.NonNegative(t) : throw new FormatException($"\"{t}\" is not a number in [0, 1)"));
        VerbSettings.Check("--weight-decay", o.WeightDecay, Vocabulary.NonNegative);
        if (o.TrainSamples is { } n)
            VerbSettings.Check("--train-samples", n, Vocabulary.Count);
        Rate(o, 1);
    }

    /// <summary>The trainer's options for <paramref name="epochs"/> epochs (the verb's <c>--epochs</c> or its default).</summary>
    public static TrainerOptions Options(ITrainingOptions o, int epochs, ParameterMasks? masks = null) => new()
    {
        Epochs = epochs,
        BatchSize = o.Batch,
        Schedule = Rate(o, epochs),
        Momentum = o.Momentum,
        Nesterov = o.Nesterov,
        WeightDecay = o.WeightDecay,
        Seed = o.Seed,
        Masks = masks,
    };

    public static LearningRateSchedule Rate(ITrainingOptions o, int epochs) => VerbSettings.Read("--schedule", o.Schedule, t => t.Trim().ToLowerInvariant() switch
    {
        "constant" => LearningRateSchedule.Constant(o.Lr),
        "step" => LearningRateSchedule.Step(o.Lr, (epochs + 2) / 3, 0.1),
        "cosine" => LearningRateSchedule.Cosine(o.Lr, epochs),
        _ => throw new FormatException($"\"{t}\" is not one of constant, step, cosine"),
    });
}
