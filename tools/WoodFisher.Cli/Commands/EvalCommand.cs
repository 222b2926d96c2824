using System.Diagnostics;
using WoodFisher.Models.Inference;

namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher eval --model MODEL.safetensors</c>: mean softmax cross-entropy and top-1 accuracy on each split (or one),
/// by the model's own forward pass or, with <c>--engine</c>, by the inference engine (dense weights, or each weight in its
/// sparse format: a compressed file's own, else the smallest).
/// </summary>
internal sealed class EvalCommand : VerbCommand<EvalCommand.Settings>
{
    public sealed class Settings : ModelSettings
    {
        [CommandOption("--split <SPLIT>"), Help("Evaluate on this split only: train or test (default: test, then train).")]
        public string? Split { get; init; }

        [CommandOption("--engine <ENGINE>"), Help("Run the inference engine: dense (every weight dense) or sparse (CSR, N:M or block-sparse weights: a compressed file's formats, else the smallest for each weight; hidden units without inputs folded into the next layer's bias). Same accuracy to float32 rounding.")]
        public string? Engine { get; init; }
    }

    protected override int Run(Settings settings, VerbRun run, CancellationToken cancellationToken)
    {
        var engineKind = settings.Engine is null ? (InferenceEngine?)null : VerbSettings.Read("--engine", settings.Engine, CliEngines.Parse);
        var compressed = CliModels.LoadCompressed(settings.Model, settings.Arch);
        var model = compressed.Model;
        using var engine = engineKind is { } kind ? compressed.CreateEngine(kind) : null;
        CliEngines.RecordRemovedUnits(engine);
        foreach (var split in settings.Split is null ? ["test", "train"] : new[] { settings.Split })
        {
            var name = VerbSettings.Read("--split", split, SampleSettings.ParseSplit);
            var data = CliModels.LoadData(settings.Data, name);
            CliModels.CheckFits(model, data);
            var clock = Stopwatch.StartNew();
            var r = engine is null ? Evaluation.Evaluate(model, data.Images, data.Labels, data.Count) : engine.Evaluate(data.Images, data.Labels, data.Count);
            var seconds = Math.Round(clock.Elapsed.TotalSeconds, 3);
            CliConsole.Record(("split", name), ("loss", r.Loss), ("accuracy", r.Accuracy), ("samples", data.Count), ("model", model.Spec),
                ("engine", engineKind is { } e ? CliEngines.Name(e) : null), ("weight_bytes", engine?.WeightBytes), ("seconds", engine is null ? null : seconds));
        }
        return 0;
    }
}
