using System.ComponentModel;
using Spectre.Console.Cli;

namespace WoodFisher.Cli.Commands;

/// <summary><c>woodfisher inspect FILE</c>.</summary>
internal sealed class InspectCommand : Command<InspectCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<FILE>")]
        [Description("A .npy, .npz, .safetensors or IDX (raw or .gz) file.")]
        public string File { get; init; } = "";
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        throw new NotImplementedException("inspect is not implemented yet");
    }
}
