using System.Globalization;
using WoodFisher.Kernels;
using WoodFisher.Pruning;

namespace WoodFisher.Cli.Infrastructure;

/// <summary>Parsing and validation shared by prune, gradual and demo.</summary>
internal static class CliParse
{
    public static UpdateMode Update(string text) => text.Trim().ToLowerInvariant() switch
    {
        "joint" => UpdateMode.Joint,
        "independent" or "indep" => UpdateMode.Independent,
        "none" => UpdateMode.None,
        _ => throw new ArgumentException($"unknown update '{text}'; expected joint, independent or none"),
    };

    public static SparsityStepping Stepping(string text) => text.Trim().ToLowerInvariant() switch
    {
        "cubic" => SparsityStepping.Cubic,
        "linear" => SparsityStepping.Linear,
        _ => throw new ArgumentException($"unknown stepping '{text}'; expected cubic or linear"),
    };

    public static SelectionMode Selection(string text) => text.Trim().ToLowerInvariant() switch
    {
        "global" => SelectionMode.Global,
        "layerwise" or "layerwise-uniform" or "uniform" => SelectionMode.LayerwiseUniform,
        _ => throw new ArgumentException($"unknown selection '{text}'; expected global or layerwise"),
    };

    public static Precision Precision(string text) => text.Trim().ToLowerInvariant() switch
    {
        "f32" or "float32" or "fp32" => Kernels.Precision.Float32,
        "f64" or "float64" or "fp64" => Kernels.Precision.Float64,
        _ => throw new ArgumentException($"unknown precision '{text}'; expected f32 or f64"),
    };

    public static BackendKind Backend(string text) => text.Trim().ToLowerInvariant() switch
    {
        "auto" => BackendKind.Auto,
        "cpu" => BackendKind.Cpu,
        "ilgpu" or "gpu" => BackendKind.Ilgpu,
        _ => throw new ArgumentException($"unknown backend '{text}'; expected auto, cpu or ilgpu"),
    };

    public static void Sparsity(double s, string option = "--sparsity")
    {
        if (!(s >= 0 && s < 1))
            throw new ArgumentException($"{option} must be in [0, 1), got {s.ToString(CultureInfo.InvariantCulture)}");
    }

    public static void Damping(double lambda)
    {
        if (!(lambda > 0) || !double.IsFinite(lambda))
            throw new ArgumentException($"--damping must be positive and finite, got {lambda.ToString(CultureInfo.InvariantCulture)}");
    }

    /// <summary>Parses <c>--damping</c>: a positive number, <c>auto</c> or <c>auto:L1,L2,…</c>.</summary>
    public static Pruning.Damping Damping(string text)
    {
        try
        {
            return Pruning.Damping.Parse(text);
        }
        catch (FormatException ex)
        {
            throw new ArgumentException($"--damping: {ex.Message}", ex);
        }
    }

    public static void TaylorStep(double eta)
    {
        if (!(eta >= 0) || !double.IsFinite(eta))
            throw new ArgumentException($"--taylor-step must be finite and non-negative, got {eta.ToString(CultureInfo.InvariantCulture)}");
    }

    public static void Positive(int v, string option)
    {
        if (v < 1)
            throw new ArgumentException($"{option} must be at least 1, got {v}");
    }

    public static double[] Doubles(string text, string option) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(t => double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : throw new ArgumentException($"{option}: '{t}' is not a number"))
            .ToArray();

    /// <summary>Checks that output paths are distinct and their directories exist (before any work).</summary>
    public static void Outputs(params string?[] paths)
    {
        var given = paths.Where(p => !string.IsNullOrEmpty(p)).Select(p => Path.GetFullPath(p!)).ToList();
        if (given.Distinct(StringComparer.Ordinal).Count() != given.Count)
            throw new ArgumentException("output paths must be distinct");
        foreach (var p in given)
        {
            var dir = Path.GetDirectoryName(p);
            if (dir is not null && !Directory.Exists(dir))
                throw new DirectoryNotFoundException($"{dir}: output directory does not exist");
        }
    }
}
