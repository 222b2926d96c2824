namespace WoodFisher.Fidelity;

/// <summary>Gradual rows over seeds: the setting is "E=.. c=.. λ=auto[ update=..][ seed=k][ momentum reset]".</summary>
internal static class Gradual
{
    /// <summary>Mean, lowest and highest test accuracy of <paramref name="method"/>'s gradual runs at <paramref name="s"/>
    /// whose setting carries exactly <paramref name="variant"/> ("" = the plain runs, "update=none", "momentum reset"), over seeds.</summary>
    public static (double Mean, double Low, double High, int Count) Seeds(IReadOnlyList<Row> rows, string method, double s, string variant)
    {
        var accuracies = rows.Where(r => r.Part == "gradual" && r.Method == method && r.Sparsity == s && Variant(r.Setting) == variant).Select(r => r.Accuracy).ToArray();
        return accuracies.Length == 0 ? (double.NaN, double.NaN, double.NaN, 0) : (accuracies.Average(), accuracies.Min(), accuracies.Max(), accuracies.Length);
    }

    /// <summary>The setting without its schedule, block, damping and seed: "", "update=none" or "momentum reset".</summary>
    private static string Variant(string setting) =>
        string.Join(' ', setting.Split(' ').Skip(3).Where(t => !t.StartsWith("seed=", StringComparison.Ordinal))).Trim();
}
