using WoodFisher.Models;

namespace WoodFisher.Cli.Commands;

/// <summary><c>woodfisher eval --model MODEL.safetensors</c>: mean softmax cross-entropy and top-1 accuracy on each split (or one).</summary>
internal sealed class EvalCommand : VerbCommand<EvalCommand.Settings>
{
    public sealed class Settings : ModelSettings
    {
        [CommandOption("--split <SPLIT>"), Help("Evaluate on this split only: train or test (default: test, then train).")]
        public string? Split { get; init; }
    }

    protected override int Run(Settings settings, VerbRun run, CancellationToken cancellationToken)
    {
        var model = CliModels.Load(settings.Model, settings.Arch);
        foreach (var split in settings.Split is null ? ["test", "train"] : new[] { settings.Split })
        {
            var name = VerbSettings.Read("--split", split, SampleSettings.ParseSplit);
            var data = CliModels.LoadData(settings.Data, name);
            CliModels.CheckFits(model, data);
            var r = Evaluation.Evaluate(model, data.Images, data.Labels, data.Count);
            CliConsole.Record(("split", name), ("loss", r.Loss), ("accuracy", r.Accuracy), ("samples", data.Count), ("model", model.Spec));
        }
        return 0;
    }
}
