using System.ComponentModel;
using System.Globalization;
using System.Text;
using Spectre.Console.Cli;
using WoodFisher.Cli.Infrastructure;
using WoodFisher.IO;
using WoodFisher.Kernels;

namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher fisher --grads G.npy --block C --damping L --out INV.npz</c>: the block-diagonal WoodFisher inverse
/// F̂⁻¹ of F̂ = λI + GᵀG/N, written as <c>diag</c> (d,) and <c>block_0</c>, <c>block_1</c>, … (c_i × c_i, block order).
/// </summary>
internal sealed class FisherCommand : Command<FisherCommand.Settings>
{
    /// <summary>Blocks drawn by <c>--heatmap</c>.</summary>
    internal const int HeatmapBlocks = 4;

    public sealed class Settings : CurvatureSettings
    {
        [CommandOption("--out <FILE>")]
        [Description("Output .npz: diag (d,) and block_0, block_1, ... (c_i × c_i) in the storage precision.")]
        public string Out { get; init; } = "";

        [CommandOption("--heatmap <PREFIX>")]
        [Description("Also write PREFIX_block_<b>.png heat maps and PREFIX_block_<b>.csv of the first few blocks.")]
        public string? Heatmap { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(settings.Out))
            throw new ArgumentException("--out is required (the .npz to write)");
        RequireMemory(settings);
        var built = CurvatureBuild.Run(settings);
        using var inverse = built.Inverse;
        var layout = inverse.Layout;
        var f32 = inverse.Precision == Precision.Float32;

        var write = System.Diagnostics.Stopwatch.StartNew();
        using (var progress = CliProgress.Start("fisher: write", layout.Count))
            Npz.Write(settings.Out, Members(inverse, f32, progress));
        write.Stop();
        if (settings.Heatmap is { } prefix)
        {
            for (int b = 0; b < Math.Min(HeatmapBlocks, layout.Count); b++)
                BlockPlots.Write(prefix, b, layout.Size(b), inverse.Block(b));
        }

        var inv = CultureInfo.InvariantCulture;
        CliConsole.Line(string.Create(inv, $"d\t{inverse.Dimension}"));
        CliConsole.Line(string.Create(inv, $"rows\t{built.Rows}"));
        CliConsole.Line(string.Create(inv, $"gradients\t{inverse.SampleCount}"));
        CliConsole.Line(string.Create(inv, $"blocks\t{layout.Count} (c = {layout.BlockSize})"));
        CliConsole.Line($"strategy\t{inverse.Strategy.ToString().ToLowerInvariant()}");
        CliConsole.Line($"backend\t{built.Backend}");
        CliConsole.Line($"precision\t{(f32 ? "f32" : "f64")}");
        CliConsole.Line(string.Create(inv, $"seconds\t{built.TotalSeconds:F3} (read {built.ReadSeconds:F3}, write {write.Elapsed.TotalSeconds:F3})"));
        CliConsole.Line(string.Create(inv, $"bytes\t{inverse.Bytes} ({CurvatureBuild.FormatBytes(inverse.Bytes)})"));
        CliConsole.Line($"out\t{settings.Out}");
        return 0;
    }

    /// <summary>Per npz member, what the zip writer keeps until the archive closes (entry record and name): ≈ 460 B measured.</summary>
    private const long BytesPerMember = 512;

    /// <summary>
    /// Refuses, before any gradient is read, an inverse whose build plus output does not fit the memory budget: the
    /// builder's own estimate, the diagonal (float64 and its float32 copy), one block's buffers, and the zip writer's
    /// per-member records, which dominate for small blocks (d = 10⁶, c = 1: a million members).
    /// </summary>
    private static void RequireMemory(Settings settings)
    {
        var options = settings.ToOptions();
        int d;
        long m;
        using (var reader = new NpyRowReader(CliFiles.RequireFile(settings.Grads)))
            (d, m) = (reader.Columns, reader.Rows);
        if (d < 1 || m < 1)
            return;
        var layout = BlockLayout.Create(d, options.BlockSize, options.Segments);
        long c = layout.BlockSize;
        var bytes = MemoryBudget.Sum(
            WoodFisherBuilder.EstimateBytes(d, options, m),
            MemoryBudget.Product(layout.Count + 1, BytesPerMember),
            MemoryBudget.Product(d, sizeof(double) + sizeof(float)),
            MemoryBudget.Product(c, c, sizeof(double) + sizeof(float)));
        MemoryBudget.Require(bytes, $"fisher: the inverse of d = {d:N0} in {layout.Count:N0} blocks and the .npz that holds them",
            "Use a larger block size c (fewer members) or a smaller one (smaller blocks), or fewer coordinates.");
    }

    /// <summary>
    /// The npz members, one block at a time. <see cref="Npz.Write(string, IEnumerable{NamedArray}, bool)"/> writes each
    /// member before it asks for the next, so one float64 buffer and one output array per block size are reused:
    /// writing Σc_i² values then costs O(c²) memory, not Σc_i² of short-lived large arrays.
    /// </summary>
    private static IEnumerable<NamedArray> Members(WoodFisherInverse inverse, bool f32, CliProgress progress)
    {
        var diag = inverse.Diagonal();
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
            if (f32)
            {
                if (buffer.Length != c * c)
                    buffer = new double[c * c];
                inverse.ReadBlock(b, buffer);
                System.Numerics.Tensors.TensorPrimitives.ConvertTruncating<double, float>(buffer, output.AsSpan<float>());
            }
            else
            {
                inverse.ReadBlock(b, output.AsSpan<double>());
            }
            yield return new NamedArray($"block_{b.ToString(CultureInfo.InvariantCulture)}", output);
            progress.Advance();
        }
    }
}

/// <summary>Heat map (PNG, ScottPlot) and CSV of one inverse block.</summary>
internal static class BlockPlots
{
    public static void Write(string prefix, int block, int c, double[] values)
    {
        var name = $"{prefix}_block_{block.ToString(CultureInfo.InvariantCulture)}";
        var grid = new double[c, c];
        var csv = new StringBuilder();
        for (int i = 0; i < c; i++)
        {
            for (int j = 0; j < c; j++)
            {
                grid[i, j] = values[(i * c) + j];
                if (j > 0)
                    csv.Append(',');
                csv.Append(values[(i * c) + j].ToString("R", CultureInfo.InvariantCulture));
            }
            csv.Append('\n');
        }
        CliFiles.WriteText(name + ".csv", csv.ToString());

        var plot = new ScottPlot.Plot();
        var heatmap = plot.Add.Heatmap(grid);
        plot.Add.ColorBar(heatmap);
        plot.Title($"WoodFisher inverse, block {block} ({c} × {c})");
        plot.XLabel("column j");
        plot.YLabel("row i");
        var dir = Path.GetDirectoryName(Path.GetFullPath(name + ".png"))!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, $".{Path.GetFileName(name)}.{Guid.NewGuid():N}.png");
        try
        {
            plot.SavePng(tmp, 800, 700);
            File.Move(tmp, name + ".png", overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp))
                File.Delete(tmp);
        }
    }
}
