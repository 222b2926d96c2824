using System.ComponentModel;
using System.Globalization;
using Spectre.Console.Cli;
using WoodFisher.Cli.Infrastructure;
using WoodFisher.Models;

namespace WoodFisher.Cli.Commands;

/// <summary><c>woodfisher eval --model MODEL.safetensors</c>: mean softmax cross-entropy and top-1 accuracy on a data split.</summary>
internal sealed class EvalCommand : Command<EvalCommand.Settings>
{
    public sealed class Settings : ModelSettings
    {
        [CommandOption("--split <SPLIT>")]
        [Description("train or test.")]
        [DefaultValue("test")]
        public string Split { get; init; } = "test";
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var model = CliModels.Load(settings.Model, settings.Arch);
        var data = CliModels.LoadData(settings.Data, settings.Split);
        CliModels.CheckFits(model, data);
        var r = Evaluation.Evaluate(model, data.Images, data.Labels, data.Count);
        CliConsole.Line(string.Create(CultureInfo.InvariantCulture,
            $"{settings.Split}: loss {r.Loss:0.000000} accuracy {r.Accuracy:0.0000} samples {data.Count} model {model.Spec}"));
        return 0;
    }
}
