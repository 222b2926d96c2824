using ScottPlot;

namespace WoodFisher.Cli.Infrastructure;

/// <summary>One named curve of a line plot: y[i] at x[i], drawn with a pattern and marker of its own.</summary>
internal sealed record PlotSeries(string Name, double[] X, double[] Y)
{
    public LinePattern Pattern { get; init; } = LinePattern.Solid;

    public MarkerShape Marker { get; init; } = MarkerShape.FilledCircle;

    public float LineWidth { get; init; } = 1.5f;

    /// <summary>Index into the Category10 palette; null = the series' position.</summary>
    public int? Colour { get; init; }
}

/// <summary>
/// The PNG plots of the CLI (ScottPlot), all written through <see cref="AtomicFile"/> so they join a verb's output
/// transaction: line plots (epoch axes with whole-number ticks) and matrix heat maps (row 0 at the top, as printed,
/// with a colour range robust to a few huge entries, stated in the legend).
/// </summary>
internal static class CliPlots
{
    /// <summary>Share of |entries| below the colour limit of a heat map: a few huge entries (1/λ of dead units) do not wash out the rest.</summary>
    public const double HeatmapPercentile = 0.98;

    /// <summary>Renders <paramref name="plot"/> and writes it as a PNG atomically.</summary>
    public static void Save(Plot plot, string path, int width, int height) =>
        AtomicFile.WriteAllBytes(path, plot.GetImageBytes(width, height, ImageFormat.Png));

    /// <summary>A line plot with markers, one legend entry per series; <paramref name="wholeX"/> puts ticks on whole numbers only (epochs).</summary>
    public static void Lines(string path, string title, string xLabel, string yLabel, IReadOnlyList<PlotSeries> series, bool wholeX = false, int width = 800, int height = 500)
    {
        ArgumentNullException.ThrowIfNull(series);
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (var i = 0; i < series.Count; i++)
        {
            var s = series[i];
            if (s.X.Length != s.Y.Length)
                throw new ArgumentException($"series '{s.Name}' has {s.X.Length} x values and {s.Y.Length} y values", nameof(series));
            var line = plt.Add.Scatter(s.X, s.Y);
            line.LegendText = s.Name;
            // A wide line is drawn pale, as a band under the thin lines that run along it.
            line.Color = palette.GetColor(s.Colour ?? i).WithAlpha(s.LineWidth > 4 ? 0.35 : 1.0);
            line.LinePattern = s.Pattern;
            line.LineWidth = s.LineWidth;
            line.MarkerShape = s.Marker;
            line.MarkerSize = 6;
        }
        plt.Title(title);
        plt.XLabel(xLabel);
        plt.YLabel(yLabel);
        if (wholeX)
            WholeTicks(plt, series.SelectMany(s => s.X).DefaultIfEmpty(0).Max());
        if (series.Count > 1)
            plt.ShowLegend(Edge.Right);
        Save(plt, path, width, height);
    }

    /// <summary>Bottom-axis ticks at whole numbers 0..<paramref name="max"/> (at most about ten of them).</summary>
    public static void WholeTicks(Plot plt, double max)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        var top = (int)Math.Ceiling(max);
        var step = Math.Max(1, (int)Math.Ceiling(top / 10.0));
        for (var t = 0; t <= top; t += step)
            ticks.AddMajor(t, t.ToString(CultureInfo.InvariantCulture));
        plt.Axes.Bottom.TickGenerator = ticks;
    }

    /// <summary>The colour limit of a heat map: the <see cref="HeatmapPercentile"/> quantile of |v| (1 when that is 0).</summary>
    public static double RobustLimit(IEnumerable<double> values)
    {
        var abs = values.Where(double.IsFinite).Select(Math.Abs).Order().ToArray();
        var limit = abs.Length == 0 ? 1 : abs[Math.Min(abs.Length - 1, (int)(HeatmapPercentile * abs.Length))];
        return limit > 0 ? limit : 1;
    }

    /// <summary>
    /// Heat maps of n × n matrices (row-major) side by side on one colour scale ±<paramref name="limit"/> (values beyond it
    /// saturate), row 0 at the top and column 0 at the left of each tile, with the limit stated in the colour bar's label.
    /// </summary>
    public static void Heatmap(string path, string title, int n, IReadOnlyList<(string Label, double[] Values)> tiles, double limit, string quantity, int height = 420)
    {
        ArgumentNullException.ThrowIfNull(tiles);
        const int Gap = 2;
        var width = (tiles.Count * n) + ((tiles.Count - 1) * Gap);
        var m = new double[n, width];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < width; j++)
                m[i, j] = double.NaN;
        }
        for (var t = 0; t < tiles.Count; t++)
        {
            for (var i = 0; i < n; i++)
            {
                for (var j = 0; j < n; j++)
                    m[i, (t * (n + Gap)) + j] = tiles[t].Values[(i * n) + j];
            }
        }

        var plt = new Plot();
        // ScottPlot draws m[0, *] as the top row of the image: the row ticks count down from the top to match.
        var hm = plt.Add.Heatmap(m);
        hm.Colormap = new ScottPlot.Colormaps.Balance();
        hm.ManualRange = new ScottPlot.Range(-limit, limit);
        hm.NaNCellColor = Colors.White;
        var bar = plt.Add.ColorBar(hm);
        bar.Label = string.Create(CultureInfo.InvariantCulture, $"{quantity}, clipped at ±{limit:g3} (p{HeatmapPercentile * 100:0} of |entries|)");
        bar.LabelStyle.FontSize = 11;
        if (tiles.Count > 1)
        {
            for (var t = 0; t < tiles.Count; t++)
            {
                var text = plt.Add.Text(tiles[t].Label, (t * (n + Gap)) + (n / 2.0), n + 0.5);
                text.LabelAlignment = Alignment.LowerCenter;
                text.LabelFontSize = 14;
            }
        }
        plt.Axes.SetLimits(-0.5, width + 0.5, -0.5, n + (tiles.Count > 1 ? (n * 0.12) + 1 : 0.5));
        plt.Title(title);
        var columns = new ScottPlot.TickGenerators.NumericManual();
        for (var t = 0; t < tiles.Count; t++)
        {
            for (var j = 0; j < n; j += Math.Max(1, n / 4))
                columns.AddMajor((t * (n + Gap)) + j + 0.5, j.ToString(CultureInfo.InvariantCulture));
        }
        plt.Axes.Bottom.TickGenerator = columns;
        var rows = new ScottPlot.TickGenerators.NumericManual();
        for (var i = 0; i < n; i += Math.Max(1, n / 4))
            rows.AddMajor(RowPosition(i, n), i.ToString(CultureInfo.InvariantCulture));
        plt.Axes.Left.TickGenerator = rows;
        plt.XLabel(tiles.Count > 1 ? "column j within the block (one tile per estimator, same colour scale)" : "column j");
        plt.YLabel("row i");
        Save(plt, path, Math.Max(700, (150 * tiles.Count) + 500), height);
    }

    /// <summary>The y coordinate at which row <paramref name="row"/> of an <paramref name="n"/>-row heat map is drawn (row 0 at the top).</summary>
    public static double RowPosition(int row, int n) => n - row - 0.5;

    /// <summary>Reads width and height from a PNG's IHDR chunk; throws <see cref="InvalidDataException"/> when it is not a PNG.</summary>
    public static (int Width, int Height) PngSize(string path)
    {
        Span<byte> head = stackalloc byte[24];
        using (var f = File.OpenRead(path))
        {
            if (f.ReadAtLeast(head, 24, throwOnEndOfStream: false) < 24)
                throw new InvalidDataException($"{path}: too short for a PNG");
        }
        ReadOnlySpan<byte> magic = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        if (!head[..8].SequenceEqual(magic) || !head.Slice(12, 4).SequenceEqual("IHDR"u8))
            throw new InvalidDataException($"{path}: not a PNG (bad magic or no IHDR at byte 12)");
        return (System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(head.Slice(16, 4)), System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(head.Slice(20, 4)));
    }
}
