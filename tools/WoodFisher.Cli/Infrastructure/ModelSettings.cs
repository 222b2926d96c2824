using System.ComponentModel;
using Spectre.Console.Cli;

namespace WoodFisher.Cli.Infrastructure;

/// <summary>Options shared by the commands that read a trained model and a data set (<c>eval</c>, <c>grads</c>, …).</summary>
internal class ModelSettings : CommandSettings
{
    [CommandOption("--model <MODEL>")]
    [Description("A .safetensors model (required).")]
    public string? Model { get; init; }

    [CommandOption("--arch <SPEC>")]
    [Description("Architecture, when the file does not record it and is not a plain MLP.")]
    public string? Arch { get; init; }

    [CommandOption("--data <DIR>")]
    [Description("Directory of IDX files (default: $WOODFISHER_DATA, /usr/share/datasets/fashion-mnist, else the embedded slice).")]
    public string? Data { get; init; }
}
