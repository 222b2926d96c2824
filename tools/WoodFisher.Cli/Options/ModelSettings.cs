namespace WoodFisher.Cli.Options;

/// <summary>Where a model and its data come from: <c>--model</c>, <c>--arch</c>, <c>--data</c>.</summary>
internal class ModelSettings : VerbSettings
{
    [CommandOption("--model <FILE>"), Help("A model as .safetensors (its architecture from the file's metadata, --arch, or recognised MLP tensor names).")]
    public string? Model { get; init; }

    [CommandOption("--arch <SPEC>"), Help("Architecture: mlp:784-300-100-10[:nobias], lenet5, cifarnet:1x28x28, resnet20:1x28x28 or cnn:16-32[:bn] (two 3×3 convolutions, optional BatchNorm, a linear head).")]
    public string? Arch { get; init; }

    [CommandOption("--data <DIR>"), Help("Directory of Fashion-MNIST IDX files (default: WOODFISHER_DATA, /usr/share/datasets/fashion-mnist, else the embedded 2,000/1,000 slice).")]
    public string? Data { get; init; }
}
