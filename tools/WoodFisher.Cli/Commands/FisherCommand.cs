using System.Numerics.Tensors;
using System.Text;

namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher fisher --grads G.npy --out INV.npz</c> (or <c>--model M</c> to compute the gradients): the
/// block-diagonal WoodFisher inverse F̂⁻¹ of F̂ = λI + GᵀG/N, written as <c>diag</c> (d,) and <c>block_0</c>,
/// <c>block_1</c>, … (c_i × c_i, block order); <c>--heatmap</c> adds PNG heat maps and CSVs of the first blocks.
/// </summary>
internal sealed class FisherCommand : VerbCommand<FisherCommand.Settings>
{
    /// <summary>Blocks drawn by <c>--heatmap</c>.</summary>
    internal const int HeatmapBlocks = 4;

    public sealed class Settings : CurvatureSettings
    {
        [CommandOption("--out <FILE>", true), Help("Output .npz: diag (d,) and block_0, block_1, ... (c_i × c_i) in the storage precision.")]
        public string? Out { get; init; }

        [CommandOption("--heatmap <PREFIX>"), Help("Also write PREFIX_block_<b>.png heat maps and PREFIX_block_<b>.csv of the first 4 blocks.")]
        public string? Heatmap { get; init; }
    }

    protected override int Run(Settings settings, VerbRun run, CancellationToken cancellationToken)
    {
        if (Distributed.Ranks.World is { } world)
            return Distributed.DistributedFisher.Run(world, settings, run);
        var outPath = run.Outputs.File("--out", settings.Out)!;
        var build = CurvatureBuild.Open(settings, run);
        RequireMemory(build);
        var plotted = settings.Heatmap is { } prefix ? Math.Min(HeatmapBlocks, build.Layout.Count) : 0;
        for (var b = 0; b < plotted; b++)
        {
            run.Outputs.File("--heatmap", BlockName(settings.Heatmap!, b) + ".png");
            run.Outputs.File("--heatmap", BlockName(settings.Heatmap!, b) + ".csv");
        }

        using var inverse = build.Build();
        var layout = inverse.Layout;
        var f32 = inverse.Precision == Precision.Float32;
        var write = System.Diagnostics.Stopwatch.StartNew();
        using (var progress = CliProgress.Start("fisher: write", layout.Count))
            Npz.Write(outPath, Members(inverse, f32, progress));
        write.Stop();
        for (var b = 0; b < plotted; b++)
            WriteBlock(BlockName(settings.Heatmap!, b), b, layout.Size(b), inverse.Block(b));

        CliConsole.Record(("d", inverse.Dimension), ("rows", build.Rows), ("gradients", inverse.SampleCount), ("blocks", layout.Count), ("block", layout.BlockSize),
            ("strategy", inverse.Strategy.ToString().ToLowerInvariant()), ("backend", inverse.BackendName), ("precision", Pruning.Vocabulary.Name(inverse.Precision)));
        CliConsole.Record(("seconds", Math.Round(build.TotalSeconds + write.Elapsed.TotalSeconds, 3)), ("read", Math.Round(build.ReadSeconds, 3)), ("write", Math.Round(write.Elapsed.TotalSeconds, 3)),
            ("bytes", inverse.Bytes), ("size", MemoryBudget.Human(inverse.Bytes)), ("out", outPath));
        return 0;
    }

    /// <summary>Per npz member, what the zip writer keeps until the archive closes (entry record and name): ≈ 460 B measured.</summary>
    private const long BytesPerMember = 512;

    /// <summary>
    /// Refuses, before any gradient is read, an inverse whose build plus output does not fit the memory budget: the
    /// builder's own estimate, the diagonal (float64 and its float32 copy), one block's buffers, and the zip writer's
    /// per-member records, which dominate for small blocks (d = 10⁶, c = 1: a million members).
    /// </summary>
    private static void RequireMemory(CurvatureBuild build)
    {
        var layout = build.Layout;
        long c = layout.BlockSize;
        var bytes = MemoryBudget.Sum(
            WoodFisherBuilder.EstimateBytes(build.Dimension, build.Options, build.Rows),
            MemoryBudget.Product(layout.Count + 1, BytesPerMember),
            MemoryBudget.Product(build.Dimension, sizeof(double) + sizeof(float)),
            MemoryBudget.Product(c, c, sizeof(double) + sizeof(float)));
        MemoryBudget.Require(bytes, $"fisher: the inverse of d = {build.Dimension:N0} in {layout.Count:N0} blocks and the .npz that holds them",
            "Use a larger block size c (fewer members) or a smaller one (smaller blocks), or fewer coordinates.");
    }

    private static string BlockName(string prefix, int block) => $"{prefix}_block_{block.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>
    /// The npz members, one block at a time, each checked finite before it is written. <see cref="Npz.Write(string, IEnumerable{NamedArray}, bool)"/>
    /// writes each member before it asks for the next, so one float64 buffer and one output array per block size are
    /// reused: writing Σc_i² values then costs O(c²) memory, not Σc_i² of short-lived large arrays.
    /// </summary>
    private static IEnumerable<NamedArray> Members(WoodFisherInverse inverse, bool f32, CliProgress progress)
    {
        var diag = inverse.Diagonal();
        Finite.Check(diag, "the inverse's diagonal");
        yield return new NamedArray("diag", f32 ? NdArray.Create(Array.ConvertAll(diag, x => (float)x), diag.Length) : NdArray.Create(diag, diag.Length));
        var layout = inverse.Layout;
        var outputs = new Dictionary<int, NdArray>();
        double[] buffer = [];
        for (int b = 0; b < layout.Count; b++)
        {
            int c = layout.Size(b);
            if (!outputs.TryGetValue(c, out var output))
            {
                output = f32 ? NdArray.Create(new float[c * c], c, c) : NdArray.Create(new double[c * c], c, c);
                outputs[c] = output;
            }
            if (buffer.Length != c * c)
                buffer = new double[c * c];
            inverse.ReadBlock(b, buffer);
            Finite.Check(buffer, $"inverse block {b}");
            if (f32)
                TensorPrimitives.ConvertTruncating<double, float>(buffer, output.AsSpan<float>());
            else
                buffer.CopyTo(output.AsSpan<double>());
            yield return new NamedArray($"block_{b.ToString(CultureInfo.InvariantCulture)}", output);
            progress.Advance();
        }
    }

    /// <summary>Heat map (row 0 at the top, robust colour range) and CSV of one inverse block.</summary>
    private static void WriteBlock(string name, int block, int c, double[] values)
    {
        var csv = new StringBuilder();
        for (int i = 0; i < c; i++)
        {
            for (int j = 0; j < c; j++)
            {
                if (j > 0)
                    csv.Append(',');
                csv.Append(values[(i * c) + j].ToString("R", CultureInfo.InvariantCulture));
            }
            csv.Append('\n');
        }
        CliFiles.WriteText(name + ".csv", csv.ToString());
        CliPlots.Heatmap(name + ".png", $"WoodFisher inverse, block {block} ({c} × {c})", c, [("", values)], CliPlots.RobustLimit(values), "entry of F̂⁻¹", 700);
    }
}
