using System.Globalization;
using WoodFisher.Kernels;

namespace WoodFisher.Pruning;

/// <summary>The inverse-curvature estimators a model can be pruned or studied with.</summary>
public enum EstimatorKind
{
    /// <summary>H⁻¹ = I: OBS with it is magnitude pruning.</summary>
    Identity,

    /// <summary>Diagonal empirical Fisher λ + (1/N)Σg² (OBD-style).</summary>
    DiagonalFisher,

    /// <summary>Block-diagonal WoodFisher F̂⁻¹ built by Woodbury updates.</summary>
    WoodFisher,

    /// <summary>K-FAC: per-layer Kronecker factors, damped.</summary>
    Kfac,

    /// <summary>The exact damped Hessian of the loss (small models or layer subsets).</summary>
    Exact,
}

/// <summary>
/// One estimator with its settings, as written on the command line: <c>kind[:key=value,...]</c>, e.g.
/// <c>woodfisher:c=200</c>, <c>woodfisher:c=50,lambda=1e-4,samples=500</c>, <c>kfac</c>, <c>exact:treatment=abs</c>.
/// Keys: c (block size), lambda (damping: a number or auto), samples (gradients), minibatch, strategy, backend, precision, treatment,
/// seed, name (a label for tables).
/// </summary>
public sealed record EstimatorSpec
{
    /// <summary>Which estimator.</summary>
    public EstimatorKind Kind { get; init; } = EstimatorKind.WoodFisher;

    /// <summary>Block size c for WoodFisher and for the joint-update blocks of K-FAC.</summary>
    public int BlockSize { get; init; } = 100;

    /// <summary>Damping λ &gt; 0, or <see cref="Pruning.Damping.Auto"/> (default): chosen per pruning step (see <see cref="Pruning.Damping"/>).</summary>
    public Damping Damping { get; init; } = Damping.Auto;

    /// <summary>Samples whose gradients (or factors, or Hessian) enter the estimate.</summary>
    public int Samples { get; init; } = 1000;

    /// <summary>Samples averaged per gradient row (the paper's Fisher mini-batch size).</summary>
    public int MiniBatch { get; init; } = 1;

    /// <summary>Woodbury strategy for WoodFisher.</summary>
    public WoodburyStrategy Strategy { get; init; } = WoodburyStrategy.Auto;

    /// <summary>Backend for WoodFisher.</summary>
    public BackendKind Backend { get; init; } = BackendKind.Auto;

    /// <summary>Storage precision for WoodFisher.</summary>
    public Precision Precision { get; init; } = Precision.Float32;

    /// <summary>How negative Hessian eigenvalues are treated by <see cref="EstimatorKind.Exact"/>.</summary>
    public IndefiniteTreatment Treatment { get; init; } = IndefiniteTreatment.Absolute;

    /// <summary>Damping split of K-FAC.</summary>
    public KfacDamping KfacDamping { get; init; } = KfacDamping.PiCorrected;

    /// <summary>null: the first samples in file order; otherwise samples drawn by this seed.</summary>
    public int? Seed { get; init; }

    /// <summary>Label used in tables and plots; defaults to the canonical text of the spec.</summary>
    public string? Name { get; init; }

    /// <summary>A short label: the given name, or e.g. <c>woodfisher:c=200</c>.</summary>
    public string Label => Name ?? Kind switch
    {
        EstimatorKind.WoodFisher => $"woodfisher:c={BlockSize}",
        EstimatorKind.Identity => "identity",
        EstimatorKind.DiagonalFisher => "diagfisher",
        EstimatorKind.Kfac => "kfac",
        EstimatorKind.Exact => "exact",
        _ => Kind.ToString(),
    };

    /// <summary>Parses <c>kind[:key=value,...]</c>, starting from <paramref name="defaults"/> for unspecified keys.</summary>
    /// <exception cref="FormatException">Unknown kind or key, or a value that does not parse.</exception>
    public static EstimatorSpec Parse(string text, EstimatorSpec? defaults = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var spec = defaults ?? new EstimatorSpec();
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var kindText = (colon < 0 ? text : text[..colon]).Trim().ToLowerInvariant();
        spec = spec with
        {
            Name = null,
            Kind = kindText switch
            {
                "identity" or "magnitude" => EstimatorKind.Identity,
                "diagfisher" or "diag" or "obd" => EstimatorKind.DiagonalFisher,
                "woodfisher" or "wf" => EstimatorKind.WoodFisher,
                "kfac" or "k-fac" => EstimatorKind.Kfac,
                "exact" or "hessian" => EstimatorKind.Exact,
                _ => throw new FormatException($"Unknown estimator '{kindText}' in '{text}'; expected identity, diagfisher, woodfisher, kfac or exact."),
            },
        };
        if (colon < 0)
        {
            return spec;
        }

        foreach (var part in text[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new FormatException($"Expected key=value in '{part}' of estimator '{text}'.");
            }

            var key = part[..eq].Trim().ToLowerInvariant();
            var value = part[(eq + 1)..].Trim();
            spec = key switch
            {
                "c" or "block" => spec with { BlockSize = ParseInt(value, key, text) },
                "lambda" or "damping" => spec with { Damping = value.Equals("auto", StringComparison.OrdinalIgnoreCase) ? Damping.Auto : ParseDouble(value, key, text) },
                "samples" or "m" => spec with { Samples = ParseInt(value, key, text) },
                "minibatch" or "b" => spec with { MiniBatch = ParseInt(value, key, text) },
                "seed" => spec with { Seed = ParseInt(value, key, text) },
                "strategy" => spec with { Strategy = ParseEnum<WoodburyStrategy>(value, key, text) },
                "backend" => spec with { Backend = ParseEnum<BackendKind>(value, key, text) },
                "precision" => spec with { Precision = value.ToLowerInvariant() is "f64" or "float64" or "double" ? Precision.Float64 : value.ToLowerInvariant() is "f32" or "float32" or "float" ? Precision.Float32 : throw new FormatException($"Unknown precision '{value}' in '{text}'; expected f32 or f64.") },
                "treatment" => spec with
                {
                    Treatment = value.ToLowerInvariant() switch
                    {
                        "damping" or "dampingonly" or "none" => IndefiniteTreatment.DampingOnly,
                        "clip" => IndefiniteTreatment.Clip,
                        "abs" or "absolute" => IndefiniteTreatment.Absolute,
                        _ => throw new FormatException($"Unknown treatment '{value}' in '{text}'; expected damping, clip or abs."),
                    },
                },
                "name" => spec with { Name = value },
                _ => throw new FormatException($"Unknown key '{key}' in estimator '{text}'; expected c, lambda, samples, minibatch, seed, strategy, backend, precision, treatment or name."),
            };
        }

        return spec;
    }

    /// <summary>The estimator a pruning method uses (magnitude ⇒ identity, woodtaylor ⇒ WoodFisher).</summary>
    public static EstimatorKind ForMethod(PruningMethod method) => method switch
    {
        PruningMethod.Magnitude => EstimatorKind.Identity,
        PruningMethod.DiagonalFisher => EstimatorKind.DiagonalFisher,
        PruningMethod.WoodFisher or PruningMethod.WoodTaylor => EstimatorKind.WoodFisher,
        PruningMethod.Kfac => EstimatorKind.Kfac,
        PruningMethod.ExactHessian => EstimatorKind.Exact,
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "Unknown pruning method."),
    };

    private static int ParseInt(string value, string key, string text) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : throw new FormatException($"'{key}={value}' in estimator '{text}' is not an integer.");

    private static double ParseDouble(string value, string key, string text) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : throw new FormatException($"'{key}={value}' in estimator '{text}' is not a number.");

    private static T ParseEnum<T>(string value, string key, string text)
        where T : struct, Enum =>
        Enum.TryParse<T>(value, ignoreCase: true, out var v) ? v : throw new FormatException($"'{key}={value}' in estimator '{text}': expected one of {string.Join(", ", Enum.GetNames<T>()).ToLowerInvariant()}.");
}
