namespace WoodFisher.Cli.Commands;

/// <summary><c>prune --model</c>: the model's weights, gradients of its own samples, dense and pruned test evaluation.</summary>
internal static class PruneModelMode
{
    public static int Run(PruneCommand.Settings s, VerbRun run, MethodSpec method, double sparsity)
    {
        var outputs = PruneOutputs.Check(s, run);

        // The estimate reads the first --samples examples unless they are drawn (--seed) or a damping search also reads
        // the calibration examples after them: then only those are waited for, and the rest of the split is checked while
        // the work runs, before anything is written.
        var estimator = method.Estimator;
        var head = estimator.Seed is null && !estimator.Damping.IsAuto
            ? CliModels.LoadHeadInBackground(s.Data, s.Split, estimator.Samples)
            : null;
        var pending = head is null ? CliModels.LoadDataInBackground(s.Data, s.Split) : () => head().Head;
        var model = CliModels.Load(s.Model, s.Arch);
        var selection = CliModels.Select(model, s.Layers, s.IncludeBias);
        var test = CliModels.LoadData(s.Data, "test");
        CliModels.CheckFits(model, test);

        // The dense evaluation needs only the model and the test split, so it runs as background work (on the cores the
        // estimate leaves idle) and is waited for once the pruning is done. It reads its own copy of the weights, which
        // the pruning overwrites in place.
        var denseModel = ModelFactory.Create(model.Spec);
        denseModel.LoadStateDict(model.StateDict());
        var denseRun = BackgroundWork.Start(() => Evaluation.Evaluate(denseModel, test.Images, test.Labels, test.Count));
        var data = pending();
        CliModels.CheckFits(model, data);
        ModelPruning.Plan(model, selection, data, method);
        var neurons = method.Pruning.Pattern.Kind == PatternKind.Neurons;
        if (neurons)
        {
            try
            {
                NeuronRemoval.Check(model);
            }
            catch (NotSupportedException ex)
            {
                throw new UsageException($"--pattern neurons: {ex.Message}", ex);
            }
        }

        var (result, options) = ModelPruning.Run(model, selection, s.IncludeBias, data, method, sparsity);
        EvaluationResult dense;
        using (CliProgress.Start($"dense evaluation on {test.Count} test samples", 0))
            dense = denseRun.GetAwaiter().GetResult();

        // The neuron pattern's output is the smaller dense model that computes the masked one.
        var shrunk = neurons ? NeuronRemoval.Shrink(model) : null;
        var saved = shrunk?.Model ?? model;
        head?.Invoke().WaitVerified();
        EvaluationResult pruned;
        using (CliProgress.Start($"pruned evaluation on {test.Count} test samples", 0))
            pruned = Evaluation.Evaluate(saved, test.Images, test.Labels, test.Count);

        var report = PruningReport.Create(options, result, [.. selection.Entries.Select(e => e.Name)]) with
        {
            Method = method.Label,
            Dense = new PruningMetrics { Accuracy = dense.Accuracy, Loss = dense.Loss },
            Pruned = new PruningMetrics { Accuracy = pruned.Accuracy, Loss = pruned.Loss },
            Settings = ModelPruning.ReportSettings(method, result.Weights.Length),
        };
        ModelFiles.Save(saved, outputs.Out, new Dictionary<string, string>
        {
            ["woodfisher.pruning"] = $"{method.Label} {Vocabulary.Name(options.EffectiveUpdate)} {options.Pattern} s={sparsity.ToString(CultureInfo.InvariantCulture)}",
        });
        outputs.Write(result, report);
        var samples = method.Method.UsesCurvature ? $"{estimator.Samples} of {head?.Invoke().Total ?? data.Count} {s.Split} samples" : null;
        PruneOutputs.Print(report, model.Spec, samples);
        if (shrunk is not null)
        {
            foreach (var u in shrunk.Units)
                CliConsole.Record(("units", u.Layer), ("before", u.Before), ("after", u.After), ("constant_kept", u.Constant));
            CliConsole.Record(("model", saved.Spec), ("parameters", saved.Parameters.Sum(p => (long)p.Length)), ("dense_parameters", model.Parameters.Sum(p => (long)p.Length)));
        }
        return 0;
    }
}
