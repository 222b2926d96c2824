using System.Text.RegularExpressions;
using ScottPlot;
using SkiaSharp;
using Spectre.Console;
using WoodFisher.Cli.Infrastructure;
using WoodFisher.Pruning;

namespace WoodFisher.Cli.Tests;

/// <summary>What can be checked of plots and progress bars: orientation and colour range of heat maps, read back from the PNG's pixels; whole-number epoch ticks; study curves that differ by update; progress lines that fit 80 columns.</summary>
[NonParallelizable]
public class PlotTests : CliFixture
{
    // Entry (0, 0) = +1 (red in the diverging map) and entry (n−1, 0) = −1 (blue): in the image, row 0 must be above row n−1,
    // as the row axis (0 at the top) says; and both in the left half.
    [Test]
    public void Heatmap_DrawsRowZeroAtTheTop_MatchingItsAxis()
    {
        const int n = 8;
        var m = new double[n * n];
        m[0] = 1;
        m[(n - 1) * n] = -1;
        var path = P("h.png");
        CliPlots.Heatmap(path, "orientation", n, [("", m)], 1, "entry");
        using var bitmap = SKBitmap.Decode(path);
        var red = Centroid(bitmap, c => c.Red > 100 && c.Green < 60 && c.Blue < 60);
        var blue = Centroid(bitmap, c => c.Blue > 100 && c.Red < 60 && c.Green < 90);
        Assert.That(red.Count, Is.GreaterThan(100), "the +1 cell is drawn");
        Assert.That(blue.Count, Is.GreaterThan(100), "the −1 cell is drawn");
        Assert.That(red.Y, Is.LessThan(blue.Y), "row 0 above row n−1");
        Assert.That(Math.Abs(red.X - blue.X), Is.LessThan(bitmap.Width / 20.0), "same column");
        Assert.That(CliPlots.RowPosition(0, n), Is.GreaterThan(CliPlots.RowPosition(n - 1, n)), "the row axis counts down from the top");
    }

    // A few huge entries (1/λ of dead units) must not wash the rest out: the limit is a high percentile, not the maximum.
    [Test]
    public void RobustLimit_IgnoresAFewHugeEntries()
    {
        var values = Enumerable.Range(0, 1000).Select(i => i < 5 ? 1e5 : (i % 7) - 3.0).ToArray();
        Assert.That(CliPlots.RobustLimit(values), Is.EqualTo(3));
        Assert.That(CliPlots.RobustLimit(new double[10]), Is.EqualTo(1), "an all-zero block still gets a range");
    }

    [Test]
    public void WholeTicks_PutEpochTicksOnIntegersOnly()
    {
        var plt = new Plot();
        plt.Add.Scatter(new double[] { 0, 25 }, new double[] { 0, 1 });
        CliPlots.WholeTicks(plt, 25);
        plt.GetImageBytes(400, 300, ImageFormat.Png);
        var ticks = plt.Axes.Bottom.TickGenerator.Ticks;
        Assert.That(ticks, Is.Not.Empty);
        Assert.That(ticks.Select(t => t.Position), Is.All.Matches<double>(x => x == Math.Round(x)));
        Assert.That(ticks.Length, Is.LessThanOrEqualTo(11));
    }

    [Test]
    public void StudyCurves_JointIndependentAndNone_DifferInLineAndMarker()
    {
        var styles = new[] { UpdateMode.Joint, UpdateMode.Independent, UpdateMode.None }.Select(StudyRendering.UpdateStyle).ToList();
        Assert.That(styles.Select(s => s.Pattern), Is.Unique);
        Assert.That(styles.Select(s => s.Marker), Is.Unique, "the legend shows the marker, so it must differ too");
    }

    // At 80 columns a progress line (long phase name included) fits without wrapping, its bar is BarWidth cells, and a
    // finished task shows its elapsed time, not **:**:**.
    [Test]
    public void ProgressColumns_FitEightyColumns_AndAFinishedTaskShowsItsTime()
    {
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = AnsiSupport.Yes,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.Yes,
        });
        console.Profile.Width = 80;
        console.Progress().AutoClear(false).Columns(CliProgress.Columns(80)).Start(ctx =>
        {
            var task = ctx.AddTask("gradients + woodfisher:block=100,damping=1e-4 inverse from 1000 samples (step 2/4)", maxValue: 10);
            task.Increment(10);
            task.StopTask();
        });
        var text = Regex.Replace(output.ToString(), @"\x1b\[[0-9;?]*[A-Za-z]", "");
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToList();
        var last = lines[^1];
        Assert.That(lines, Is.All.Matches<string>(l => l.Length <= 80), text);
        Assert.That(last, Does.Contain("100%").And.Contain("…"), "one line, the phase cut with an ellipsis");
        Assert.That(last, Does.Not.Contain("*"));
        Assert.That(last, Does.Match(@"\d+:\d\d\s*$"), "the elapsed time of a finished task");
        Assert.That(CliProgress.TimeColumn.Describe(TimeSpan.FromSeconds(75), TimeSpan.FromSeconds(30)), Is.EqualTo("1:15 left 0:30"));
        Assert.That(CliProgress.TimeColumn.Describe(TimeSpan.FromSeconds(75), null), Is.EqualTo("1:15"));
    }

    private static (double X, double Y, int Count) Centroid(SKBitmap bitmap, Func<SKColor, bool> match)
    {
        double x = 0, y = 0;
        var count = 0;
        for (var j = 0; j < bitmap.Height; j++)
        {
            for (var i = 0; i < bitmap.Width; i++)
            {
                if (match(bitmap.GetPixel(i, j)))
                {
                    x += i;
                    y += j;
                    count++;
                }
            }
        }
        return count == 0 ? (double.NaN, double.NaN, 0) : (x / count, y / count, count);
    }
}
