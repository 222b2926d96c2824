using Spectre.Console;

namespace WoodFisher.Cli.Infrastructure;

/// <summary>The outputs of <c>prune</c> in either mode (the weights or model, mask, scores, report), checked before the work, and its printed summary.</summary>
internal sealed class PruneOutputs
{
    private PruneOutputs(string @out, string? mask, string? scores, string? report)
    {
        Out = @out;
        Mask = mask;
        Scores = scores;
        Report = report;
    }

    public string Out { get; }

    public string? Mask { get; }

    public string? Scores { get; }

    public string? Report { get; }

    public static PruneOutputs Check(Commands.PruneCommand.Settings s, VerbRun run) => new(
        run.Outputs.File("--out", s.Out)!, run.Outputs.File("--mask", s.Mask), run.Outputs.File("--scores", s.Scores), run.Outputs.File("--report", s.Report));

    /// <summary>Writes the mask, scores and report that were asked for (the weights or model are written by the mode).</summary>
    public void Write(PruningResult result, PruningReport report)
    {
        var d = result.Mask.Length;
        if (Mask is not null)
            Npy.Write(Mask, NdArray.Create(result.Mask, d));
        if (Scores is not null)
            Npy.Write(Scores, NdArray.Create(result.Scores, d));
        if (Report is not null)
            CliFiles.WriteText(Report, report.ToJson());
    }

    /// <summary>
    /// The summary: a table on a terminal; otherwise the same labels as <c>key=value</c> lines (method and sparsity, one
    /// line per layer, dense and pruned accuracy and loss when evaluated, seconds per phase).
    /// </summary>
    public static void Print(PruningReport r, string what, string? samples)
    {
        var sec = r.Seconds;
        var update = Vocabulary.Name(r.Update);
        if (CliConsole.IsInteractive)
        {
            var table = new Table().Title(Markup.Escape($"{what}: {r.Method} ({update} update){(samples is null ? "" : ", " + samples)}"));
            table.AddColumn("layer");
            table.AddColumn(new TableColumn("size").RightAligned());
            table.AddColumn(new TableColumn("sparsity").RightAligned());
            foreach (var l in r.Layers)
                table.AddRow(Markup.Escape(l.Name), l.Size.ToString(CultureInfo.InvariantCulture), l.Prunable ? ModelPruning.Pct(l.Sparsity) : "(kept)");
            table.AddRow("[bold]total[/]", r.Layers.Where(l => l.Prunable).Sum(l => l.Size).ToString(CultureInfo.InvariantCulture), ModelPruning.Pct(r.AchievedSparsity));
            CliConsole.Render(table);
            if (r.Dense is { } dense && r.Pruned is { } pruned)
            {
                CliConsole.Line($"test accuracy: dense {ModelPruning.Pct(dense.Accuracy ?? 0)}, pruned {ModelPruning.Pct(pruned.Accuracy ?? 0)}");
                CliConsole.Line(string.Create(CultureInfo.InvariantCulture, $"test loss: dense {dense.Loss:0.0000}, pruned {pruned.Loss:0.0000}"));
            }
            CliConsole.Line($"damping: {ModelPruning.DampingText(r)}{(r.Settings?.BlockText is { } block ? $", block: {block}" : "")}");
            CliConsole.Line($"seconds: gradients {ModelPruning.Sec(sec.Gradients)}, inverse {ModelPruning.Sec(sec.Inverse)}, selection {ModelPruning.Sec(sec.Selection)}, update {ModelPruning.Sec(sec.Update)}, total {ModelPruning.Sec(sec.Total)}");
            return;
        }
        CliConsole.Record(("method", r.Method), ("update", update), ("target_sparsity", r.TargetSparsity), ("sparsity", r.AchievedSparsity),
            ("pruned", r.Layers.Where(l => l.Prunable).Sum(l => (long)l.Pruned)), ("of", r.Layers.Where(l => l.Prunable).Sum(l => (long)l.Size)));
        foreach (var l in r.Layers)
            CliConsole.Record(("layer", l.Name), ("size", l.Size), ("sparsity", l.Sparsity), ("prunable", l.Prunable ? "yes" : "no"));
        if (r.Dense is { } d && r.Pruned is { } p)
            CliConsole.Record(("dense_accuracy", d.Accuracy), ("pruned_accuracy", p.Accuracy), ("dense_loss", d.Loss), ("pruned_loss", p.Loss));
        CliConsole.Record(("damping", ModelPruning.DampingText(r)));
        if (r.Settings?.BlockText is { } c)
            CliConsole.Record(("block", c));
        CliConsole.Record(("seconds_gradients", Math.Round(sec.Gradients, 3)), ("seconds_inverse", Math.Round(sec.Inverse, 3)), ("seconds_selection", Math.Round(sec.Selection, 3)),
            ("seconds_update", Math.Round(sec.Update, 3)), ("seconds_total", Math.Round(sec.Total, 3)));
    }
}
