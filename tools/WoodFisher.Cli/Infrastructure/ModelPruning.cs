using System.Globalization;
using WoodFisher.Models;
using WoodFisher.Models.Data;
using WoodFisher.Pruning;

namespace WoodFisher.Cli.Infrastructure;

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
        CurvatureFactory? factory = build is null ? null : (w, mask) =>
        {
            phase?.Dispose();
            k++;
            var label = settings.Recompute > 1 ? $" (step {k}/{settings.Recompute})" : "";
            CurvatureSample e;
            using (CliProgress.Start($"gradients + {spec.Label} inverse from {spec.Samples} samples{label}", 0))
                e = build(w, mask);
            phase = CliProgress.Start($"scores + selection + {settings.Update.ToString().ToLowerInvariant()} update{label}", 0);
            return e;
        };
        try
        {
            if (factory is null)
                phase = CliProgress.Start("magnitude scores + selection", 0);
            var result = new Pruner(options).Prune(curvature.GetWeights(), factory, mask, Notes);
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

    /// <summary>The pruner's damping-search lines, written as notes as they come (synchronously).</summary>
    public static IProgress<string> Notes { get; } = new NoteProgress();

    public static string Pct(double v) => (100 * v).ToString("0.00", CultureInfo.InvariantCulture) + "%";

    public static string Sec(double v) => v.ToString("0.00", CultureInfo.InvariantCulture);

    private sealed class NoteProgress : IProgress<string>
    {
        public void Report(string value) => CliConsole.Note(value);
    }
}
