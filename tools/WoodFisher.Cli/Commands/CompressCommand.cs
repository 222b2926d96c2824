using WoodFisher.Kernels.Sparse;

namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher compress --model PRUNED.safetensors --out C.safetensors [--format auto]</c>: writes the model with its
/// Linear and Conv2d weights stored sparse (CSR, N:M or block-sparse, see docs/sparse-inference.md), which eval,
/// bench-inference and every verb that takes --model read.
/// </summary>
internal sealed class CompressCommand : VerbCommand<CompressCommand.Settings>
{
    public sealed class Settings : ModelSettings
    {
        [CommandOption("--format <FORMAT>"), Help("auto (each weight in the format with the fewest bytes: dense, csr, N:M or block), or one format for every Linear/Conv2d weight: dense, csr, N:M (e.g. 2:4) or block:RxC (e.g. block:4x1)."), DefaultValue("auto")]
        public string Format { get; init; } = "";

        [CommandOption("--out <FILE>", true), Help("The compressed model (.safetensors).")]
        public string? Out { get; init; }
    }

    protected override int Run(Settings s, VerbRun run, CancellationToken cancellationToken)
    {
        run.Refuse("compress", "it reads no data", "--data");
        var auto = s.Format.Trim().Equals("auto", StringComparison.OrdinalIgnoreCase);
        if (!auto)
            VerbSettings.Read("--format", s.Format, WeightFormats.Parse);
        var output = run.Outputs.File("--out", s.Out)!;
        var model = CliModels.LoadCompressed(s.Model, s.Arch).Model;
        var written = CompressedModelFiles.Save(model, output, auto ? null : (name, dense, rows, columns) =>
        {
            try
            {
                return WeightFormats.Create(s.Format, dense, rows, columns);
            }
            catch (ArgumentException ex)
            {
                throw new InvalidDataException($"{name} cannot be stored as {s.Format}: {ex.Message}", ex);
            }
        });
        long stored = 0, dense = 0;
        foreach (var w in written)
        {
            var nonZeros = w.Matrix.ToDense().Count(v => v != 0);
            CliConsole.Record(("weight", w.Name), ("format", WeightFormats.Name(w.Matrix)), ("shape", string.Join('x', w.Shape)), ("nonzeros", nonZeros),
                ("bytes", w.Matrix.StoredBytes), ("dense_bytes", 4L * w.Matrix.Rows * w.Matrix.Columns));
            stored += w.Matrix.StoredBytes;
            dense += 4L * w.Matrix.Rows * w.Matrix.Columns;
        }
        CliConsole.Record(("model", model.Spec), ("weight_bytes", stored), ("dense_weight_bytes", dense), ("ratio", Math.Round((double)stored / dense, 4)), ("out", output));
        return 0;
    }
}
