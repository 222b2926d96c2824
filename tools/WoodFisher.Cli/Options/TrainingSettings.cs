namespace WoodFisher.Cli.Options;

/// <summary>SGD training (softmax cross-entropy): <c>--epochs --batch --lr --momentum --nesterov --weight-decay --schedule --train-samples</c>.</summary>
internal class TrainingSettings : PrunerSettings, ITrainingOptions
{
    [CommandOption("--epochs <E>"), Help(TrainingHelp.Epochs)]
    public int? Epochs { get; init; }

    [CommandOption("--batch <B>"), Help(TrainingHelp.Batch), DefaultValue(128)]
    public int Batch { get; init; }

    [CommandOption("--lr <LR>"), Help(TrainingHelp.Lr), DefaultValue(0.05)]
    public double Lr { get; init; }

    [CommandOption("--momentum <MU>"), Help(TrainingHelp.Momentum), DefaultValue(0.9)]
    public double Momentum { get; init; }

    [CommandOption("--nesterov"), Help(TrainingHelp.Nesterov)]
    public bool Nesterov { get; init; }

    [CommandOption("--weight-decay <L2>"), Help(TrainingHelp.WeightDecay), DefaultValue(0.0)]
    public double WeightDecay { get; init; }

    [CommandOption("--schedule <KIND>"), Help(TrainingHelp.Schedule), DefaultValue("constant")]
    public string Schedule { get; init; } = "";

    [CommandOption("--train-samples <N>"), Help(TrainingHelp.TrainSamples)]
    public int? TrainSamples { get; init; }

    int ITrainingOptions.Seed => Seed ?? 0;

    public override Spectre.Console.ValidationResult Validate()
    {
        TrainingHelp.Validate(this);
        return base.Validate();
    }
}
