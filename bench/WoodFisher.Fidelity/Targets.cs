using System.Globalization;
using System.Text;

namespace WoodFisher.Fidelity;

/// <summary>The quality targets of issue 14, checked against the results CSV (targets.md): met, missed, or not measured.</summary>
internal static class Targets
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Write(IReadOnlyList<Row> rows)
    {
        var md = new StringBuilder("| target | model | sparsity | measured | reference | verdict |\n|---|---|---:|---:|---:|---|\n");
        void Line(string target, string model, double s, Row? measured, double? reference, string referenceText, bool met) =>
            md.Append(Inv, $"| {target} | {model} | {100 * s:0}% | {Pct(measured?.Accuracy)}{Lambda(measured)} | {(reference is { } r ? Pct(r) : "")} {referenceText} | {(measured is null ? "not measured" : met ? "met" : "**missed**")} |\n");

        foreach (var model in rows.Select(r => r.Model).Distinct())
        {
            foreach (var s in new[] { 0.8, 0.9, 0.95 })
            {
                var defaults = Defaults(rows, model, s);
                var magnitude = Find(rows, model, s, r => r.Part == "oneshot" && r.Method == "magnitude");
                if (defaults is null && magnitude is null)
                {
                    continue;
                }

                Line("defaults ≥ global magnitude", model, s, defaults, magnitude?.Accuracy, "(magnitude)", defaults?.Accuracy >= magnitude?.Accuracy);
                var best = rows.Where(r => r.Model == model && r.Sparsity == s && r.Part == "lambda" && r.Setting.StartsWith("c=400 ", StringComparison.Ordinal)).MaxBy(r => r.Accuracy);
                Line("defaults within 1 point of the grid's best λ", model, s, defaults, best?.Accuracy, best is null ? "(not measured)" : $"(λ {best.Lambda.ToString("g1", Inv)})", best is not null && defaults?.Accuracy >= best.Accuracy - 0.01);
            }
        }

        var mlp90 = Defaults(rows, "mlp", 0.9);
        Line("MLP at 90% with the defaults ≥ 79%", "mlp", 0.9, mlp90, 0.79, "", mlp90?.Accuracy >= 0.79);
        var recompute = Find(rows, "mlp", 0.98, r => r.Part == "recompute" && r.Method == "woodfisher" && r.Setting.Contains("c=auto", StringComparison.Ordinal))
            ?? Find(rows, "mlp", 0.98, r => r.Part == "recompute" && r.Method == "woodfisher");
        Line($"MLP at 98%, 16 cubic recompute steps ({recompute?.Setting}) ≥ 70%", "mlp", 0.98, recompute, 0.70, "", recompute?.Accuracy >= 0.70);
        foreach (var model in rows.Where(r => r.Part == "gradual").Select(r => r.Model).Distinct())
        {
            var mine = rows.Where(r => r.Model == model).ToList();
            foreach (var s in new[] { 0.95, 0.98 })
            {
                var variants = mine.Where(r => r.Part == "gradual" && r.Sparsity == s && r.Method == "woodfisher").Select(r => Gradual.Variant(r.Setting)).Distinct().Order(StringComparer.Ordinal);
                foreach (var variant in variants)
                {
                    // Magnitude with the same schedule: the variant's "every=k" or momentum reset (magnitude has no update or samples).
                    var schedule = string.Join(' ', variant.Split(' ').Where(t => t.StartsWith("every=", StringComparison.Ordinal) || t is "momentum" or "reset"));
                    var wf = Gradual.Seeds(mine, "woodfisher", s, variant);
                    var mag = Gradual.Seeds(mine, "magnitude", s, schedule, Gradual.SeedsOf(mine, "woodfisher", s, variant));
                    var measured = new Row(model, "gradual", "woodfisher", s, "", double.NaN, double.NaN, double.NaN, wf.Mean, double.NaN, 0);
                    var label = variant == Gradual.DefaultVariant ? " (the defaults: " + variant + ")" : variant.Length > 0 ? $" ({variant})" : "";
                    var epochs = mine.First(r => r.Part == "gradual" && r.Sparsity == s && r.Method == "woodfisher" && Gradual.Variant(r.Setting) == variant).Setting.Split(' ')[0];
                    Line($"gradual WoodFisher{label}, {epochs} ≥ gradual magnitude{(schedule.Length > 0 ? $" ({schedule})" : "")}, same {wf.Count} seed{(wf.Count > 1 ? "s" : "")}", model, s, measured, mag.Count > 0 ? mag.Mean : null, "(magnitude)", wf.Mean >= mag.Mean);
                }
            }
        }

        return md.ToString();
    }

    /// <summary>What <c>woodfisher prune</c> does with no --block and no --damping: the "defaults" row (part defaults).</summary>
    public static Row? Defaults(IReadOnlyList<Row> rows, string model, double s) => Find(rows, model, s, r => r.Part == "defaults");

    private static Row? Find(IReadOnlyList<Row> rows, string model, double s, Func<Row, bool> pick) =>
        rows.FirstOrDefault(r => r.Model == model && r.Sparsity == s && pick(r));

    private static string Pct(double? v) => v is { } x && !double.IsNaN(x) ? (100 * x).ToString("0.0", Inv) : "";

    private static string Lambda(Row? r) => r is null || double.IsNaN(r.Lambda) ? "" : $" (λ {r.Lambda.ToString("g1", Inv)})";
}
