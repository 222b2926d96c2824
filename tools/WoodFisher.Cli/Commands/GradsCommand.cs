namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher grads --model MODEL.safetensors --out G.npy --layout G.json</c>: per-sample (or mini-batch-mean) gradients
/// of the softmax cross-entropy, one row per sample (or per B samples), over the selected layers' weights (and biases with
/// <c>--include-bias</c>), in model order. The (rows × d) float32 .npy is streamed to disk chunk by chunk, so G may be
/// larger than memory; <c>--layout</c> writes the columns' tensors (name, shape, offset, length) as JSON
/// (<see cref="GradientLayout"/>), the file <c>prune --layout</c> reads.
/// </summary>
internal sealed class GradsCommand : VerbCommand<GradsCommand.Settings>
{
    public sealed class Settings : SampleSettings
    {
        [CommandOption("--out <FILE>", true), Help("Output .npy, float32 (rows × d), streamed.")]
        public string? Out { get; init; }

        [CommandOption("--layout <FILE>"), Help("Also write the layout of G's columns (name, shape, offset, length of each tensor) as JSON, for prune, fisher and ihvp.")]
        public string? Layout { get; init; }
    }

    /// <summary>Rows per chunk are chosen to keep a chunk near this many bytes.</summary>
    private const long ChunkBytes = 64L << 20;

    protected override int Run(Settings s, VerbRun run, CancellationToken cancellationToken)
    {
        var outPath = run.Outputs.File("--out", s.Out)!;
        var layoutPath = run.Outputs.File("--layout", s.Layout);
        var model = CliModels.Load(s.Model, s.Arch);
        var data = CliModels.LoadData(s.Data, s.Split);
        CliModels.CheckFits(model, data);
        CliModels.CheckSamples(s.Samples, data, s.Minibatch);
        var selection = CliModels.Select(model, s.Layers, s.IncludeBias);

        var source = new PerSampleGradientSource(model, data.Images, data.Labels, s.Samples, selection, s.Minibatch, s.Seed);
        var d = source.Dimension;
        var rows = source.Count;
        var chunk = (int)Math.Clamp(ChunkBytes / (4L * d), 1, rows);
        CliConsole.Note(string.Create(CultureInfo.InvariantCulture,
            $"grads: {model.Spec}, {rows} rows × {d} ({rows * d * 4.0 / (1 << 20):0.0} MiB) from {s.Samples} {s.Split} samples of {data.Name}"));

        var buffer = new float[(long)chunk * d];
        using (var writer = new NpyWriter(outPath, d))
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
        if (layoutPath is not null)
            new GradientLayout([.. selection.Entries.Select(e => new GradientLayoutTensor(e.Name, e.Shape, e.Offset, e.Length))], rows, s.Minibatch, model.Spec).Write(layoutPath);

        CliConsole.Record(("wrote", outPath), ("rows", rows), ("columns", d), ("dtype", "float32"), ("layout", layoutPath ?? "-"));
        foreach (var e in selection.Entries)
            CliConsole.Record(("tensor", e.Name), ("shape", string.Join('x', e.Shape)), ("offset", e.Offset), ("length", e.Length));
        return 0;
    }
}
