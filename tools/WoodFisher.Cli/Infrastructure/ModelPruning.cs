using System.Globalization;
using WoodFisher.Kernels;
using WoodFisher.Models;
using WoodFisher.Models.Data;
using WoodFisher.Pruning;

namespace WoodFisher.Cli.Infrastructure;

/// <summary>A CLI pruning method: the library's method plus the selection it implies (magnitude-layerwise).</summary>
internal sealed record CliMethod(string Name, PruningMethod Method, SelectionMode Selection)
{
    public const string Names = "woodfisher, woodtaylor, diagfisher, kfac, magnitude, magnitude-layerwise or exact";

    public static CliMethod Parse(string text, IReadOnlyCollection<string>? allowed = null)
    {
        var name = text.Trim().ToLowerInvariant();
        var m = name switch
        {
            "magnitude-layerwise" or "layerwise-magnitude" => new CliMethod("magnitude-layerwise", PruningMethod.Magnitude, SelectionMode.LayerwiseUniform),
            _ => TryParse(name),
        };
        if (m is null || (allowed is not null && !allowed.Contains(m.Name)))
            throw new ArgumentException($"unknown method '{text}'; expected {(allowed is null ? Names : string.Join(", ", allowed))}");
        return m;
    }

    private static CliMethod? TryParse(string name)
    {
        try
        {
            var method = PruningMethods.Parse(name);
            return new CliMethod(method == PruningMethod.ExactHessian ? "exact" : PruningMethods.Name(method), method, SelectionMode.Global);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }
}

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

/// <summary>Settings of one model-mode pruning run.</summary>
internal sealed record ModelPruneSettings
{
    public required CliMethod Method { get; init; }
    public UpdateMode Update { get; init; } = UpdateMode.Joint;
    public double Sparsity { get; init; }
    public int BlockSize { get; init; } = 100;
    public double Damping { get; init; } = 1e-5;
    public int FisherSamples { get; init; } = 1000;
    public int FisherMiniBatch { get; init; } = 1;
    public int Recompute { get; init; } = 1;
    public SparsityStepping Stepping { get; init; } = SparsityStepping.Cubic;
    public BackendKind Backend { get; init; } = BackendKind.Auto;
    public Precision Precision { get; init; } = Precision.Float32;
    public int? Seed { get; init; }
    public double GradientStep { get; init; } = 1;

    public void Validate()
    {
        CliParse.TaylorStep(GradientStep);
        CliParse.Sparsity(Sparsity);
        CliParse.Damping(Damping);
        CliParse.Positive(BlockSize, "--block");
        CliParse.Positive(FisherSamples, "--fisher-samples");
        CliParse.Positive(FisherMiniBatch, "--fisher-minibatch");
        CliParse.Positive(Recompute, "--recompute");
    }

    /// <summary>The estimator this run builds (identity for magnitude).</summary>
    public EstimatorSpec Estimator(int available) => new()
    {
        Kind = EstimatorSpec.ForMethod(Method.Method),
        BlockSize = BlockSize,
        Damping = Damping,
        Samples = Math.Min(FisherSamples, available),
        MiniBatch = FisherMiniBatch,
        Backend = Backend,
        Precision = Precision,
        Seed = Seed,
    };

    public PrunerOptions Options(ParameterSelection<float> selection, bool biasesPrunable) => new()
    {
        Method = Method.Method,
        Update = Update,
        Sparsity = Sparsity,
        Selection = Method.Selection,
        Segments = selection.Segments,
        PrunableSegments = selection.Entries.Select(e => e.IsPrunable || biasesPrunable).ToArray(),
        RecomputeSteps = Recompute,
        Stepping = Stepping,
        GradientStep = GradientStep,
    };
}

/// <summary>Model-mode pruning: H⁻¹ from the training split through <see cref="ModelCurvature"/>, with phase progress.</summary>
internal static class ModelPruning
{
    /// <summary>Largest d the CLI builds an exact Hessian for (d² float64 values and d HVPs per sample).</summary>
    public const int ExactLimit = 4096;

    /// <summary>Refuses an exact Hessian too large to build (before any work).</summary>
    public static void CheckFits(ModelPruneSettings settings, ParameterSelection<float> selection)
    {
        if (settings.Method.Method == PruningMethod.ExactHessian && selection.Dimension > ExactLimit)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"exact: the dense Hessian of d = {selection.Dimension} weights needs {(double)selection.Dimension * selection.Dimension * 8 / 1e9:0.0} GB and {selection.Dimension} Hessian-vector products per sample; the CLI allows d ≤ {ExactLimit} (select fewer with --layers)"));
        }
    }

    /// <summary>Prunes the selected weights of the model in place (the model ends up holding the pruned weights).</summary>
    public static (PruningResult Result, PrunerOptions Options) Run(IModel<float> model, ParameterSelection<float> selection, bool biasesPrunable,
        Dataset train, ModelPruneSettings settings, bool[]? mask = null)
    {
        CheckFits(settings, selection);
        var curvature = new ModelCurvature(model, selection, train.Images, train.Labels);
        var options = settings.Options(selection, biasesPrunable);
        var spec = settings.Estimator(train.Count);
        var build = settings.Method.Method == PruningMethod.Magnitude ? null : curvature.Factory(spec, settings.Method.Method == PruningMethod.WoodTaylor);
        CliProgress? phase = null;
        var k = 0;
        CurvatureFactory? factory = build is null ? null : w =>
        {
            phase?.Dispose();
            k++;
            var label = settings.Recompute > 1 ? $" (step {k}/{settings.Recompute})" : "";
            CurvatureEstimate e;
            using (CliProgress.Start($"gradients + {spec.Label} inverse from {spec.Samples} samples{label}", 0))
                e = build(w);
            phase = CliProgress.Start($"scores + selection + {settings.Update.ToString().ToLowerInvariant()} update{label}", 0);
            return e;
        };
        try
        {
            if (factory is null)
                phase = CliProgress.Start("magnitude scores + selection", 0);
            var result = new Pruner(options).Prune(curvature.GetWeights(), factory, mask);
            curvature.SetWeights(result.Weights);
            return (result, options);
        }
        catch (InsufficientMemoryException ex)
        {
            // Program.Main lets out-of-memory through; a dense Hessian that does not fit is a usage error, not a crash.
            throw new InvalidOperationException($"{settings.Method.Name}: {ex.Message}", ex);
        }
        finally
        {
            phase?.Dispose();
        }
    }

    public static string Pct(double v) => (100 * v).ToString("0.00", CultureInfo.InvariantCulture) + "%";

    public static string Sec(double v) => v.ToString("0.00", CultureInfo.InvariantCulture);
}
