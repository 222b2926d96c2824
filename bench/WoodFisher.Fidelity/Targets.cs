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
                var defaults = Find(rows, model, s, r => r.Part is "blocks" or "oneshot" && r.Method == "woodfisher" && r.Setting == "c=100 λ=auto");
                var magnitude = Find(rows, model, s, r => r.Part == "oneshot" && r.Method == "magnitude");
                if (defaults is null && magnitude is null)
                {
                    continue;
                }

                Line("defaults ≥ global magnitude", model, s, defaults, magnitude?.Accuracy, "(magnitude)", defaults?.Accuracy >= magnitude?.Accuracy);
                var best = rows.Where(r => r.Model == model && r.Sparsity == s && r.Part == "blocks-lambda" && r.Setting.StartsWith("c=100 ", StringComparison.Ordinal)).MaxBy(r => r.Accuracy);
                Line("defaults within 1 point of the grid's best λ", model, s, defaults, best?.Accuracy, best is null ? "(not measured)" : $"(λ {best.Lambda.ToString("g1", Inv)})", best is not null && defaults?.Accuracy >= best.Accuracy - 0.01);
            }
        }

        var mlp90 = Find(rows, "mlp", 0.9, r => r.Part is "blocks" or "oneshot" && r.Method == "woodfisher" && r.Setting == "c=100 λ=auto");
        Line("MLP at 90% with the defaults ≥ 79%", "mlp", 0.9, mlp90, 0.79, "", mlp90?.Accuracy >= 0.79);
        var recompute = Find(rows, "mlp", 0.98, r => r.Part == "recompute" && r.Method == "woodfisher");
        Line($"MLP at 98%, 16 cubic recompute steps ({recompute?.Setting}) ≥ 70%", "mlp", 0.98, recompute, 0.70, "", recompute?.Accuracy >= 0.70);
        foreach (var model in rows.Where(r => r.Part == "gradual").Select(r => r.Model).Distinct())
        {
            foreach (var s in new[] { 0.95, 0.98 })
            {
                foreach (var reset in new[] { false, true })
                {
                    bool Pick(Row r, string method) => r.Part == "gradual" && r.Method == method && r.Setting.Contains("reset", StringComparison.Ordinal) == reset;
                    var wf = Find(rows, model, s, r => Pick(r, "woodfisher"));
                    var mag = Find(rows, model, s, r => Pick(r, "magnitude"));
                    if (wf is not null || mag is not null)
                    {
                        Line($"gradual WoodFisher ≥ gradual magnitude{(reset ? " (momentum reset)" : "")}, {wf?.Setting ?? mag?.Setting}", model, s, wf, mag?.Accuracy, "(magnitude)", wf?.Accuracy >= mag?.Accuracy);
                    }
                }
            }
        }

        return md.ToString();
    }

    private static Row? Find(IReadOnlyList<Row> rows, string model, double s, Func<Row, bool> pick) =>
        rows.FirstOrDefault(r => r.Model == model && r.Sparsity == s && pick(r));

    private static string Pct(double? v) => v is { } x && !double.IsNaN(x) ? (100 * x).ToString("0.0", Inv) : "";

    private static string Lambda(Row? r) => r is null || double.IsNaN(r.Lambda) ? "" : $" (λ {r.Lambda.ToString("g1", Inv)})";
}
