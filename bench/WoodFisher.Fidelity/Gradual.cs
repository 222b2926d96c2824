using System.Globalization;

namespace WoodFisher.Fidelity;

/// <summary>Gradual rows over seeds: the setting is "E=.. c=.. λ=auto[ update=..][ samples=fresh][ minibatch=B][ every=k][ seed=k][ momentum reset]".</summary>
internal static class Gradual
{
    /// <summary>The variant <c>woodfisher gradual</c> and <see cref="WoodFisher.Pruning.GradualPruner"/> run by default.</summary>
    public const string DefaultVariant = "samples=fresh recompute=4";

    /// <summary>Mean, lowest and highest test accuracy of <paramref name="method"/>'s gradual runs at <paramref name="s"/>
    /// whose setting carries exactly <paramref name="variant"/> ("" = the plain runs, "update=none", "momentum reset", …),
    /// over seeds (those in <paramref name="seeds"/> when given); <paramref name="rows"/> holds one model's rows.</summary>
    public static (double Mean, double Low, double High, int Count) Seeds(IReadOnlyList<Row> rows, string method, double s, string variant, IReadOnlyCollection<int>? seeds = null)
    {
        var accuracies = Runs(rows, method, s, variant).Where(r => seeds is null || seeds.Contains(Seed(r.Setting))).Select(r => r.Accuracy).ToArray();
        return accuracies.Length == 0 ? (double.NaN, double.NaN, double.NaN, 0) : (accuracies.Average(), accuracies.Min(), accuracies.Max(), accuracies.Length);
    }

    /// <summary>The seeds of those runs.</summary>
    public static int[] SeedsOf(IReadOnlyList<Row> rows, string method, double s, string variant) =>
        [.. Runs(rows, method, s, variant).Select(r => Seed(r.Setting)).Distinct()];

    /// <summary>The setting without its schedule, block, damping and seed: "", "update=none", "samples=fresh minibatch=16", ….</summary>
    public static string Variant(string setting) =>
        string.Join(' ', setting.Split(' ').Skip(3).Where(t => !t.StartsWith("seed=", StringComparison.Ordinal))).Trim();

    private static IEnumerable<Row> Runs(IReadOnlyList<Row> rows, string method, double s, string variant) =>
        rows.Where(r => r.Part == "gradual" && r.Method == method && r.Sparsity == s && Variant(r.Setting) == variant);

    private static int Seed(string setting) =>
        setting.Split(' ').FirstOrDefault(t => t.StartsWith("seed=", StringComparison.Ordinal)) is { } t ? int.Parse(t[5..], CultureInfo.InvariantCulture) : 0;
}
