using ScottPlot;
using WoodFisher.IO;

namespace WoodFisher.Cli.Infrastructure;

/// <summary>One named curve of a line plot: y[i] at x[i].</summary>
internal sealed record PlotSeries(string Name, double[] X, double[] Y);

/// <summary>PNG plots for CLI outputs (ScottPlot), written atomically like every other output file.</summary>
internal static class CliPlots
{
    /// <summary>
    /// Saves a line plot (markers on each point, one legend entry per series) as a PNG to <paramref name="path"/>:
    /// rendered in memory, then written through <see cref="AtomicFile"/> (temporary file in the same directory, then rename).
    /// </summary>
    public static void SaveLinePlot(string path, string title, string xLabel, string yLabel, params IReadOnlyList<PlotSeries> series) =>
        SaveLinePlot(path, title, xLabel, yLabel, 800, 500, series);

    /// <summary>As <see cref="SaveLinePlot(string, string, string, string, IReadOnlyList{PlotSeries})"/> with an image size in pixels.</summary>
    public static void SaveLinePlot(string path, string title, string xLabel, string yLabel, int width, int height, IReadOnlyList<PlotSeries> series)
    {
        ArgumentNullException.ThrowIfNull(series);
        var plt = new Plot();
        foreach (var s in series)
        {
            if (s.X.Length != s.Y.Length)
                throw new ArgumentException($"series '{s.Name}' has {s.X.Length} x values and {s.Y.Length} y values", nameof(series));
            var line = plt.Add.Scatter(s.X, s.Y);
            line.LegendText = s.Name;
        }
        plt.Title(title);
        plt.XLabel(xLabel);
        plt.YLabel(yLabel);
        if (series.Count > 1)
            plt.ShowLegend(Edge.Right);
        AtomicFile.WriteAllBytes(path, plt.GetImageBytes(width, height, ImageFormat.Png));
    }
}
