using WoodFisher.Models;
using WoodFisher.Models.Data;
using WoodFisher.Pruning;

namespace WoodFisher.Cli.Commands;

/// <summary><c>prune --model</c>: the model's weights, gradients of its own samples, dense and pruned test evaluation.</summary>
internal static class PruneModelMode
{
    public static int Run(PruneCommand.Settings s, VerbRun run, MethodSpec method, double sparsity)
    {
        var outputs = PruneOutputs.Check(s, run);
        var model = CliModels.Load(s.Model, s.Arch);
        var selection = CliModels.Select(model, s.Layers, s.IncludeBias);
        var data = CliModels.LoadData(s.Data, s.Split);
        var test = CliModels.LoadData(s.Data, "test");
        CliModels.CheckFits(model, data);
        ModelPruning.Check(method, selection, data);

        var dense = Evaluate(model, test, "dense");
        var (result, options) = ModelPruning.Run(model, selection, s.IncludeBias, data, method, sparsity);
        var report = Finish(model, selection, outputs.Out, method, options, sparsity, result, dense, Evaluate(model, test, "pruned"));
        outputs.Write(result, report);
        var samples = method.Method.UsesCurvature ? $"{method.Estimator.Samples} of {data.Count} {s.Split} samples" : null;
        PruneOutputs.Print(report, model.Spec, samples);
        return 0;
    }

    /// <summary>Accuracy and loss of <paramref name="model"/> on the test split, with progress naming <paramref name="which"/> model.</summary>
    internal static EvaluationResult Evaluate(IModel<float> model, Dataset test, string which)
    {
        using (CliProgress.Start($"{which} evaluation on {test.Count} test samples", 0))
            return Evaluation.Evaluate(model, test.Images, test.Labels, test.Count);
    }

    /// <summary>Saves the pruned model (its metadata naming the method) and returns the run's report.</summary>
    internal static PruningReport Finish(IModel<float> model, ParameterSelection<float> selection, string path, MethodSpec method, PrunerOptions options, double sparsity,
        PruningResult result, EvaluationResult dense, EvaluationResult pruned)
    {
        ModelFiles.Save(model, path, new Dictionary<string, string>
        {
            ["woodfisher.pruning"] = $"{method.Label} {Vocabulary.Name(options.EffectiveUpdate)} s={sparsity.ToString(CultureInfo.InvariantCulture)}",
        });
        return PruningReport.Create(options, result, [.. selection.Entries.Select(e => e.Name)]) with
        {
            Method = method.Label,
            Dense = new PruningMetrics { Accuracy = dense.Accuracy, Loss = dense.Loss },
            Pruned = new PruningMetrics { Accuracy = pruned.Accuracy, Loss = pruned.Loss },
            Settings = ModelPruning.ReportSettings(method),
        };
    }
}
