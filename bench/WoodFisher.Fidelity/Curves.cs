using System.Globalization;

namespace WoodFisher.Fidelity;

/// <summary>
/// gradual-curves.png (the MLP; gradual-curves-MODEL.png for the other models) from gradual-curves.csv: test accuracy
/// after every pruning step and every fine-tuning epoch of the seed-0, 6-epoch gradual runs of one model and target:
/// magnitude, WoodFisher in one OBS step per pruning step (the same and fresh samples), with the mini-batch Fisher, and in
/// 4 OBS steps per pruning step with fresh samples (<c>woodfisher gradual</c>'s defaults).
/// </summary>
internal static class Curves
{
    private static readonly string[] Shown = ["magnitude", "woodfisher", "woodfisher, samples=fresh", "woodfisher, samples=fresh minibatch=16", "woodfisher, samples=fresh recompute=4"];

    public static void Plot(string csv, string model, double target, string png)
    {
        if (!File.Exists(csv))
        {
            return;
        }

        var points = File.ReadLines(csv).Skip(1).Select(l => l.Split(','))
            .Where(f => f[0] == model && double.Parse(f[2], CultureInfo.InvariantCulture) == target && !f[3].Contains("seed=", StringComparison.Ordinal))
            .GroupBy(f => f[1] + (f[3].Split(' ').Length > 3 ? ", " + string.Join(' ', f[3].Split(' ').Skip(3)) : ""))
            .Where(g => Shown.Contains(g.Key));
        var plt = new ScottPlot.Plot();
        foreach (var run in points)
        {
            // x: the epoch, with a pruning step drawn half an epoch before the fine-tuning that follows it.
            var xs = run.Select(f => int.Parse(f[4], CultureInfo.InvariantCulture) - (f[5] == "pruned" ? 0.0 : 0.5) + 0.5).ToArray();
            var ys = run.Select(f => 100 * double.Parse(f[7], CultureInfo.InvariantCulture)).ToArray();
            plt.Add.Scatter(xs, ys).LegendText = run.Key;
        }

        plt.Title($"{model}: gradual pruning to {100 * target:0}%, test accuracy after each pruning step and epoch (seed 0)");
        plt.XLabel("epoch (pruning steps at k + ½, after epoch k)");
        plt.YLabel("test accuracy (%)");
        plt.ShowLegend(ScottPlot.Alignment.LowerLeft);
        plt.SavePng(png, 1100, 650);
    }
}
