using System.Globalization;
using WoodFisher.Kernels;

namespace WoodFisher.Pruning;

/// <summary>
/// Parsers of the values that pruning settings take, shared by <see cref="MethodSpec"/> keys and the CLI's options, so a
/// value means the same wherever it is written. Each throws <see cref="FormatException"/> with a message that quotes the
/// text and says what was expected (e.g. <c>"90%" is not a number in [0, 1)</c>); callers prefix the option or key.
/// </summary>
public static class Vocabulary
{
    /// <summary>Update modes: none, independent, joint.</summary>
    public static UpdateMode Update(string text) => Choose(text, ("none", UpdateMode.None), ("independent", UpdateMode.Independent), ("joint", UpdateMode.Joint));

    /// <summary>Selections: global (one threshold), layerwise (the same sparsity in every layer).</summary>
    public static SelectionMode Selection(string text) => Choose(text, ("global", SelectionMode.Global), ("layerwise", SelectionMode.LayerwiseUniform));

    /// <summary>Steppings of the recompute steps: cubic, linear.</summary>
    public static SparsityStepping Stepping(string text) => Choose(text, ("cubic", SparsityStepping.Cubic), ("linear", SparsityStepping.Linear));

    /// <summary>Woodbury strategies: auto, rank1, rankk, dense.</summary>
    public static WoodburyStrategy Strategy(string text) =>
        Choose(text, ("auto", WoodburyStrategy.Auto), ("rank1", WoodburyStrategy.Rank1), ("rankk", WoodburyStrategy.RankK), ("dense", WoodburyStrategy.Dense));

    /// <summary>Backends: cpu, ilgpu, auto.</summary>
    public static BackendKind Backend(string text) => Choose(text, ("cpu", BackendKind.Cpu), ("ilgpu", BackendKind.Ilgpu), ("auto", BackendKind.Auto));

    /// <summary>Storage precisions: float32, float64.</summary>
    public static Precision Precision(string text) => Choose(text, ("float32", Kernels.Precision.Float32), ("float64", Kernels.Precision.Float64));

    /// <summary>Treatments of negative Hessian eigenvalues: abs (|μ| + λ), clip (max(μ, 0) + λ), damping (μ + λ).</summary>
    public static IndefiniteTreatment Treatment(string text) =>
        Choose(text, ("abs", IndefiniteTreatment.Absolute), ("clip", IndefiniteTreatment.Clip), ("damping", IndefiniteTreatment.DampingOnly));

    /// <summary>The name <see cref="Update"/> reads for <paramref name="mode"/>.</summary>
    public static string Name(UpdateMode mode) => mode.ToString().ToLowerInvariant();

    /// <summary>The name <see cref="Selection"/> reads for <paramref name="mode"/>.</summary>
    public static string Name(SelectionMode mode) => mode == SelectionMode.LayerwiseUniform ? "layerwise" : "global";

    /// <summary>The name <see cref="Precision"/> reads for <paramref name="precision"/>.</summary>
    public static string Name(Precision precision) => precision.ToString().ToLowerInvariant();

    /// <summary>A sparsity: a finite number in [0, 1).</summary>
    public static double Sparsity(string text) => Number(text, v => v >= 0 && v < 1, "a number in [0, 1)");

    /// <summary>A damping: a finite λ &gt; 0, <c>auto</c> or <c>auto:λ1,λ2,...</c> (see <see cref="Pruning.Damping.Parse"/>).</summary>
    public static Damping Damping(string text) =>
        text?.Trim().StartsWith("auto", StringComparison.OrdinalIgnoreCase) == true ? Pruning.Damping.Parse(text) : Pruning.Damping.Fixed(Positive(text!));

    /// <summary>A finite number &gt; 0.</summary>
    public static double Positive(string text) => Number(text, v => v > 0, "a positive number");

    /// <summary>A finite number ≥ 0.</summary>
    public static double NonNegative(string text) => Number(text, v => v >= 0, "a number ≥ 0");

    /// <summary>A finite number (any sign).</summary>
    public static double Finite(string text) => Number(text, _ => true, "a finite number");

    /// <summary>An integer ≥ 1.</summary>
    public static int Count(string text) => Integer(text, 1, "a positive integer");

    /// <summary>
    /// A block size: an integer ≥ 1, <c>full</c> for c = d (<see cref="EstimatorSpec.FullBlockSize"/>), or <c>auto</c>
    /// (<see cref="EstimatorSpec.AutoBlockSize"/>).
    /// </summary>
    public static int BlockSize(string text) => text?.Trim().ToLowerInvariant() switch
    {
        "full" => EstimatorSpec.FullBlockSize,
        "auto" => EstimatorSpec.AutoBlockSize,
        _ => Integer(text!, 1, "a positive integer, auto or full"),
    };

    /// <summary>A block size as <see cref="BlockSize"/> reads it: the number, <c>auto</c> or <c>full</c>.</summary>
    public static string BlockText(int blockSize) => blockSize switch
    {
        EstimatorSpec.AutoBlockSize => "auto",
        EstimatorSpec.FullBlockSize => "full",
        _ => blockSize.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>An integer ≥ 0.</summary>
    public static int NonNegativeCount(string text) => Integer(text, 0, "an integer ≥ 0");

    /// <summary>Any 32-bit integer (seeds).</summary>
    public static int Seed(string text) => Integer(text, int.MinValue, "an integer");

    /// <summary>A comma-separated list read element by element with <paramref name="read"/>; at least one element.</summary>
    public static T[] List<T>(string text, Func<string, T> read)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(read);
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length == 0 || parts.All(p => p.Length == 0))
        {
            throw new FormatException("no value given");
        }

        return [.. parts.Select(read)];
    }

    /// <summary>Runs <paramref name="read"/> and prefixes a <see cref="FormatException"/>'s message with <paramref name="where"/> (an option or key).</summary>
    public static T Read<T>(string where, string text, Func<string, T> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        try
        {
            return read(text);
        }
        catch (FormatException ex)
        {
            throw new FormatException($"{where}: {ex.Message}", ex);
        }
    }

    private static T Choose<T>(string text, params (string Name, T Value)[] names)
    {
        ArgumentNullException.ThrowIfNull(text);
        var key = text.Trim().ToLowerInvariant();
        foreach (var (name, value) in names)
        {
            if (name == key)
            {
                return value;
            }
        }

        var hint = Internal.Suggest.Nearest(key, names.Select(n => n.Name));
        throw new FormatException($"\"{text}\" is not one of {string.Join(", ", names.Select(n => n.Name))}{(hint is null ? "" : $" (did you mean {hint}?)")}");
    }

    private static double Number(string text, Func<double, bool> ok, string what)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) && ok(v))
        {
            return v;
        }

        throw new FormatException($"\"{text}\" is not {what}");
    }

    private static int Integer(string text, int min, string what)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (int.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min)
        {
            return v;
        }

        throw new FormatException($"\"{text}\" is not {what}");
    }
}
