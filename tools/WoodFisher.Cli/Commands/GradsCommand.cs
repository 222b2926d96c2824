using System.ComponentModel;
using System.Globalization;
using Spectre.Console.Cli;
using WoodFisher.Cli.Infrastructure;
using WoodFisher.IO;
using WoodFisher.Models;

namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher grads --model MODEL.safetensors --out G.npy</c>: per-sample (or mini-batch-mean) gradients of the softmax
/// cross-entropy, one row per sample (or per B samples), over the selected layers' weights (and biases with
/// <c>--include-bias</c>), in model order. The (rows × d) float32 .npy is streamed to disk chunk by chunk, so G may be
/// larger than memory. Prints the layout of G's columns (name, shape, offset, length of each parameter); <c>--layout</c> writes it
/// as JSON (<see cref="GradientLayout"/>), the file <c>prune --layout</c> reads.
/// </summary>
internal sealed class GradsCommand : Command<GradsCommand.Settings>
{
    public sealed class Settings : ModelSettings
    {
        [CommandOption("--split <SPLIT>")]
        [Description("train or test.")]
        [DefaultValue("train")]
        public string Split { get; init; } = "train";

        [CommandOption("--samples <M>")]
        [Description("Samples to use: the first M in file order, or M drawn by --seed.")]
        [DefaultValue(1000)]
        public int Samples { get; init; } = 1000;

        [CommandOption("--minibatch <B>")]
        [Description("Average each B consecutive samples into one row (M must be a multiple of B).")]
        [DefaultValue(1)]
        public int Minibatch { get; init; } = 1;

        [CommandOption("--include-bias")]
        [Description("Include the selected layers' biases (after each weight).")]
        public bool IncludeBias { get; init; }

        [CommandOption("--layers <NAMES>")]
        [Description("Comma-separated layers (fc1,fc2) or parameter names (fc1.weight); default every Linear/Conv2d layer.")]
        public string? Layers { get; init; }

        [CommandOption("--seed <S>")]
        [Description("Draw the samples by this seed instead of taking the first M.")]
        public int? Seed { get; init; }

        [CommandOption("--out <G>")]
        [Description("Output .npy, float32 (rows × d) (required).")]
        public string? Out { get; init; }

        [CommandOption("--layout <JSON>")]
        [Description("Also write the layout of G's columns (name, shape, offset, length of each parameter) as JSON, the file prune --layout reads.")]
        public string? Layout { get; init; }
    }

    /// <summary>Rows per chunk are chosen to keep a chunk near this many bytes.</summary>
    private const long ChunkBytes = 64L << 20;

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(settings.Out))
            throw new ArgumentException("--out is required");
        if (settings.Minibatch <= 0)
            throw new ArgumentException($"--minibatch must be positive, not {settings.Minibatch}");
        if (settings.Samples <= 0)
            throw new ArgumentException($"--samples must be positive, not {settings.Samples}");
        if (settings.Samples % settings.Minibatch != 0)
            throw new ArgumentException($"--samples {settings.Samples} is not a multiple of --minibatch {settings.Minibatch}");
        var model = CliModels.Load(settings.Model, settings.Arch);
        var data = CliModels.LoadData(settings.Data, settings.Split);
        CliModels.CheckFits(model, data);
        if (settings.Samples > data.Count)
            throw new ArgumentException($"--samples {settings.Samples}: {data.Name} holds only {data.Count} samples");
        var selection = Select(model, settings.Layers, settings.IncludeBias);

        var source = new PerSampleGradientSource(model, data.Images, data.Labels, settings.Samples, selection, settings.Minibatch, settings.Seed);
        var d = source.Dimension;
        var rows = source.Count;
        var chunk = (int)Math.Clamp(ChunkBytes / (4L * d), 1, rows);
        CliConsole.Note(string.Create(CultureInfo.InvariantCulture,
            $"grads: {model.Spec}, {rows} rows × {d} ({rows * d * 4.0 / (1 << 20):0.0} MiB) from {settings.Samples} {settings.Split} samples of {data.Name}"));

        var buffer = new float[(long)chunk * d];
        using (var writer = new NpyWriter(settings.Out, d))
        using (var progress = CliProgress.Start("per-sample gradients", rows))
        {
            int n;
            while ((n = source.Read(buffer, chunk)) > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                writer.WriteRows(buffer.AsSpan(0, n * d));
                progress.Advance(n);
            }
            writer.Commit();
        }

        CliConsole.Line(string.Create(CultureInfo.InvariantCulture, $"wrote {settings.Out}: {rows} x {d} float32"));
        foreach (var e in selection.Entries)
            CliConsole.Line(string.Create(CultureInfo.InvariantCulture, $"segment {e.Name} {string.Join('x', e.Shape)} offset {e.Offset} length {e.Length}"));
        if (!string.IsNullOrWhiteSpace(settings.Layout))
        {
            var tensors = selection.Entries.Select(e => new GradientLayoutTensor(e.Name, e.Shape, e.Offset, e.Length)).ToList();
            new GradientLayout(tensors, rows, settings.Minibatch, model.Spec).Write(settings.Layout);
        }
        return 0;
    }

    /// <summary>Layer names (<c>fc1</c>) select the layer's weight (and bias); parameter names (<c>fc1.weight</c>) select just that.</summary>
    internal static ParameterSelection<float> Select(IModel<float> model, string? layers, bool includeBias)
    {
        if (string.IsNullOrWhiteSpace(layers))
            return ParameterSelection<float>.Prunable(model, includeBias);
        var names = new List<string>();
        foreach (var raw in layers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (model.Parameters.Any(p => p.Name == raw))
            {
                names.Add(raw);
                continue;
            }
            var weight = model.Parameters.FirstOrDefault(p => p.Name == raw + ".weight" && p.IsPrunable)
                ?? throw new ArgumentException(
                    $"--layers: model {model.Spec} has no layer '{raw}'; its layers are {string.Join(", ", model.Parameters.Where(p => p.IsPrunable).Select(p => p.Name[..^".weight".Length]))}");
            names.Add(weight.Name);
            if (includeBias && model.Parameters.Any(p => p.Name == raw + ".bias"))
                names.Add(raw + ".bias");
        }
        return ParameterSelection<float>.ByNames(model, names);
    }
}
