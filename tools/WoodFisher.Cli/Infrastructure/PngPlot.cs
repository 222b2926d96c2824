namespace WoodFisher.Cli.Infrastructure;

/// <summary>Line plots written as PNG (ScottPlot), atomically: rendered to a temp file beside the target, then renamed.</summary>
internal static class PngPlot
{
    /// <summary>One series: legend text and points.</summary>
    public sealed record Series(string Label, double[] X, double[] Y);

    public static void Save(string path, string title, string xLabel, string yLabel, IEnumerable<Series> series, int width = 900, int height = 550)
    {
        var plt = new ScottPlot.Plot();
        foreach (var s in series)
        {
            var sc = plt.Add.Scatter(s.X, s.Y);
            sc.LegendText = s.Label;
        }
        plt.Title(title);
        plt.XLabel(xLabel);
        plt.YLabel(yLabel);
        plt.ShowLegend();
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp.png");
        try
        {
            plt.SavePng(tmp, width, height);
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp))
                File.Delete(tmp);
        }
    }
}
