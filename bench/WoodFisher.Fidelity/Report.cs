using System.Globalization;
using System.Text;

namespace WoodFisher.Fidelity;

/// <summary>Markdown tables and one PNG per model from the results CSV.</summary>
internal static class Report
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void Write(IReadOnlyList<Row> rows, string dir)
    {
        var md = new StringBuilder();
        foreach (var model in rows.Select(r => r.Model).Distinct())
        {
            var mine = rows.Where(r => r.Model == model).ToList();
            var sparsities = mine.Where(r => r.Part == "oneshot").Select(r => r.Sparsity).Distinct().Order().ToArray();
            var dense = mine.FirstOrDefault(r => r.Part == "dense");
            md.Append(Inv, $"### {model}: dense {Pct(dense?.Accuracy)}\n\n");
            md.Append("| method | ").Append(string.Join(" | ", sparsities.Select(s => (100 * s).ToString("0", Inv) + "%"))).Append(" |\n|---|");
            md.Append(string.Concat(sparsities.Select(_ => "---:|"))).Append('\n');
            var lines = Lines(mine, sparsities);
            foreach (var (label, cells) in lines)
            {
                md.Append(Inv, $"| {label} | {string.Join(" | ", cells.Select(c => c.Text))} |\n");
            }

            md.Append('\n');
            Plot(model, sparsities, lines, Path.Combine(dir, model + ".png"));
        }

        foreach (var model in rows.Where(r => r.Part == "gradual" && r.Sparsity == 0.95).Select(r => r.Model).Distinct())
        {
            Curves.Plot(Path.Combine(dir, "gradual-curves.csv"), model, 0.95, Path.Combine(dir, model == "mlp" ? "gradual-curves.png" : $"gradual-curves-{model}.png"));
        }

        File.WriteAllText(Path.Combine(dir, "table.md"), md.ToString());
        File.WriteAllText(Path.Combine(dir, "targets.md"), Targets.Write(rows));
    }

    private sealed record Cell(double Accuracy, string Text);

    private static List<(string Label, Cell[] Cells)> Lines(List<Row> rows, double[] sparsities)
    {
        Cell One(Func<Row, bool> pick, double s, bool showLambda = false)
        {
            var r = rows.FirstOrDefault(x => x.Sparsity == s && pick(x));
            return r is null ? new Cell(double.NaN, "") : new Cell(r.Accuracy, Pct(r.Accuracy) + (showLambda && !double.IsNaN(r.Lambda) ? $" (λ {r.Lambda.ToString("g1", Inv)})" : ""));
        }

        Cell Best(string part, string method, double s, string setting = "")
        {
            var r = rows.Where(x => x.Sparsity == s && x.Part == part && x.Method == method && x.Setting.StartsWith(setting, StringComparison.Ordinal)).MaxBy(x => x.Accuracy);
            return r is null ? new Cell(double.NaN, "") : new Cell(r.Accuracy, Pct(r.Accuracy) + $" (λ {r.Lambda.ToString("g1", Inv)})");
        }

        Cell Seeds(string method, double s, string variant)
        {
            var (mean, low, high, n) = Gradual.Seeds(rows, method, s, variant);
            return n == 0 ? new Cell(double.NaN, "") : new Cell(mean, n == 1 ? Pct(mean) : $"{Pct(mean)} ({Pct(low)}–{Pct(high)}, {n} seeds)");
        }

        Cell[] Each(Func<double, Cell> f) => sparsities.Select(f).ToArray();
        var list = new List<(string, Cell[])>
        {
            ("magnitude (global)", Each(s => One(r => r.Part == "oneshot" && r.Method == "magnitude", s))),
            ("diagonal Fisher, λ auto", Each(s => One(r => r.Part == "oneshot" && r.Method == "diagfisher", s, true))),
            ("K-FAC (joint blocks c = 400), λ auto", Each(s => One(r => r.Part == "oneshot" && r.Method == "kfac", s, true))),
            ("WoodFisher, defaults (c auto = 400, λ auto)", Each(s => One(r => r == Targets.Defaults(rows, r.Model, s), s, true))),
            ("WoodFisher, c = 100, λ auto", Each(s => One(r => r.Part is "blocks" or "oneshot" && r.Method == "woodfisher" && r.Setting == "c=100 λ=auto", s, true))),
            ("WoodFisher, c = 100, best λ of the grid", Each(s => Best("blocks-lambda", "woodfisher", s, "c=100 "))),
            ("WoodFisher, c = 100, λ = 1e-5 (fixed)", Each(s => One(r => r.Part == "oneshot" && r.Method == "woodfisher" && r.Setting == "c=100 λ=1e-05", s))),
            ("WoodFisher, c = 400, λ auto", Each(s => One(r => r.Part == "oneshot" && r.Method == "woodfisher" && r.Setting == "c=400 λ=auto", s, true))),
            ("WoodFisher, c = 400, best λ of the grid", Each(s => Best("lambda", "woodfisher", s))),
            ("WoodTaylor, c = 400, λ and η auto", Each(s => One(r => r.Part == "oneshot" && r.Method == "woodtaylor", s, true))),
            ("magnitude, 16 cubic steps", Each(s => One(r => r.Part == "recompute" && r.Method == "magnitude", s))),
            ("WoodFisher, 16 cubic steps, c = 400", Each(s => One(r => r.Part == "recompute" && r.Method == "woodfisher" && r.Setting.Contains("c=400", StringComparison.Ordinal), s, true))),
            ("WoodFisher, 16 cubic steps, defaults", Each(s => One(r => r.Part == "recompute" && r.Method == "woodfisher" && r.Setting.Contains("c=auto", StringComparison.Ordinal), s, true))),
            ("tensor mode (PyTorch G), λ auto", Each(s => One(r => r.Part == "tensor" && r.Setting.EndsWith("λ=auto", StringComparison.Ordinal), s, true))),
            ("tensor mode, best λ of the grid", Each(s => Best("tensor", "woodfisher", s))),
        };
        foreach (var (method, variant) in rows.Where(r => r.Part == "gradual").Select(r => (r.Method, Variant: Gradual.Variant(r.Setting))).Distinct().OrderBy(v => v.Variant.Length).ThenBy(v => v.Variant, StringComparer.Ordinal))
        {
            list.Add(($"gradual {method}{(variant.Length == 0 ? "" : ", " + variant)}", Each(s => Seeds(method, s, variant))));
        }

        foreach (var c in rows.Where(r => r.Part == "blocks" && r.Setting is not ("c=100 λ=auto" or "c=400 λ=auto")).Select(r => r.Setting).Distinct().Order(StringComparer.Ordinal))
        {
            list.Add(($"WoodFisher {c.Replace("λ=auto", "", StringComparison.Ordinal).Trim()}, λ auto", Each(s => One(r => r.Part == "blocks" && r.Setting == c, s, true))));
        }

        return list.Where(l => l.Item2.Any(c => !double.IsNaN(c.Accuracy))).ToList();
    }

    private static void Plot(string model, double[] sparsities, List<(string Label, Cell[] Cells)> lines, string path)
    {
        var plt = new ScottPlot.Plot();
        foreach (var (label, cells) in lines.Where(l => !l.Label.StartsWith("WoodFisher c=", StringComparison.Ordinal)))
        {
            var xs = sparsities.Where((_, i) => !double.IsNaN(cells[i].Accuracy)).Select(s => 100 * s).ToArray();
            var ys = cells.Where(c => !double.IsNaN(c.Accuracy)).Select(c => 100 * c.Accuracy).ToArray();
            if (xs.Length == 0)
            {
                continue;
            }

            var sc = plt.Add.Scatter(xs, ys);
            sc.LegendText = label;
        }

        plt.Title($"{model}: test accuracy after pruning (Fashion-MNIST)");
        plt.XLabel("sparsity (%)");
        plt.YLabel("test accuracy (%)");
        plt.ShowLegend(ScottPlot.Alignment.LowerLeft);
        plt.SavePng(path, 1000, 650);
    }

    private static string Pct(double? v) => v is { } x && !double.IsNaN(x) ? (100 * x).ToString("0.0", Inv) : "";
}
