using System.Globalization;
using System.Text;
using ScottPlot;
using WoodFisher.Pruning.Studies;

namespace WoodFisher.Cli.Infrastructure;

/// <summary>Writes a <see cref="StudyResult"/> as summary.md, CSV tables and PNG plots.</summary>
internal static class StudyRendering
{
    public const int PlotWidth = 800;
    public const int PlotHeight = 600;

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Writes every output into <paramref name="dir"/>; returns the paths written, summary.md first.</summary>
    public static IReadOnlyList<string> WriteAll(StudyResult r, string dir, string trainSource, string testSource)
    {
        var files = new List<string>();
        string Csv(string name, string header, IEnumerable<string> rows)
        {
            var path = Path.Combine(dir, name);
            var sb = new StringBuilder().Append(header).Append('\n');
            foreach (var row in rows)
                sb.Append(row).Append('\n');
            CliFiles.WriteText(path, sb.ToString());
            files.Add(path);
            return path;
        }

        Csv("fidelity.csv", "estimator,full,within_blocks,diagonal,cosine",
            r.Fidelity.Select(f => Join(f.Label, N(f.Full), N(f.WithinBlocks), N(f.Diagonal), N(f.Cosine))));
        Csv("fidelity_blocks.csv", "estimator,block,layer,offset,size,relative_error",
            r.Fidelity.SelectMany(f => f.PerBlock.Select((e, b) => Join(f.Label, I(b), r.LayerOf(r.ReferenceLayout.Offset(b)), I(r.ReferenceLayout.Offset(b)), I(r.ReferenceLayout.Size(b)), N(e)))));
        Csv("curvature_matrices.csv", "matrix,reference,relative_frobenius,cosine,norm_ratio",
            r.Matrices.Select(m => Join(m.Matrix, m.Reference, N(m.RelativeFrobenius), N(m.Cosine), N(m.NormRatio))));
        Csv("loss_change.csv", "estimator,index,layer,weight,predicted,first_order,actual",
            r.LossChanges.SelectMany(l => l.Indices.Select((q, t) => Join(l.Label, I(q), r.LayerOf(q), N(l.Weights[t]), N(l.Predicted[t]), N(l.FirstOrder[t]), N(l.Actual[t])))));
        Csv("loss_change_correlations.csv", "estimator,weights,pearson,spearman,pearson_with_gradient,spearman_with_gradient",
            r.LossChanges.Select(l => Join(l.Label, I(l.Indices.Length), N(l.Pearson), N(l.Spearman), N(l.PearsonWithGradient), N(l.SpearmanWithGradient))));
        Csv("pruning_curves.csv", "estimator,update,target_sparsity,sparsity,test_loss,test_accuracy",
            r.Curves.Select(p => Join(p.Label, Update(p.Update), N(p.TargetSparsity), N(p.Sparsity), N(p.Loss), N(p.Accuracy))));
        Csv("cost.csv", "estimator,name,gradient_seconds,inverse_seconds,total_seconds,bytes",
            r.Costs.Select(c => Join(c.Label, c.Name, N(c.GradientSeconds), N(c.InverseSeconds), N(c.TotalSeconds), I(c.Bytes))));

        var pngs = new List<string>();
        foreach (var h in r.Heatmaps)
            pngs.Add(Heatmap(h, Path.Combine(dir, $"heatmap_block{h.Block}.png")));
        foreach (var l in r.LossChanges)
            pngs.Add(LossScatter(l, Path.Combine(dir, $"loss_change_{Slug(l.Label)}.png")));
        pngs.Add(PruningCurves(r, Path.Combine(dir, "pruning_curves.png")));

        var summary = Path.Combine(dir, "summary.md");
        CliFiles.WriteText(summary, Summary(r, trainSource, testSource, pngs.Select(Path.GetFileName).ToList()!));
        return [summary, .. files, .. pngs];
    }

    /// <summary>The Markdown report: setup, then one table per question.</summary>
    public static string Summary(StudyResult r, string trainSource, string testSource, IReadOnlyList<string> images)
    {
        var o = r.Options;
        var s = r.Spectrum;
        var sb = new StringBuilder();
        sb.Append("# Approximation-quality study\n\n");
        sb.Append(Inv, $"Model `{r.ModelSpec}`; studied weights {string.Join(", ", r.Layers.Select(e => $"`{e.Name}` ({e.Length})"))}: d = {r.Dimension}. ");
        sb.Append(Inv, $"Curvature and loss changes on N = {o.Samples} training samples ({trainSource}, seed {o.Seed}); pruning curves on {r.TestCount} test samples ({testSource}).\n\n");
        sb.Append(Inv, $"Exact Hessian H ({r.HessianSeconds:0.0} s, {r.Dimension} Hessian-vector products): **{s.NegativeEigenvalues} of {r.Dimension} eigenvalues negative** ({s.NegativeBeyondNoise} below −{SpectrumSummary.NoiseTolerance:0e0}·max|μ|, the rest within float32 rounding of zero), ");
        sb.Append(Inv, $"min eigenvalue {G(s.MinEigenvalue)}, max {G(s.MaxEigenvalue)}. Reference inverse: {Treatment(s.Treatment, s.Damping)}.\n\n");

        sb.Append("## Matrix fidelity of the inverses\n\n");
        sb.Append(Inv, $"Relative Frobenius error ‖Ĥ⁻¹ − H⁻¹‖_F / ‖H⁻¹‖_F against the exact reference. *full*: the whole d × d matrix, block-diagonal estimators counting as zero off their blocks; ");
        sb.Append(Inv, $"*within blocks*: only the entries inside the {r.ReferenceLayout.Count} blocks of c = {r.ReferenceLayout.BlockSize} (restarting at each layer); *diagonal*: the [H⁻¹]_qq OBS scores use; *cosine*: ⟨Ĥ⁻¹, H⁻¹⟩_F / (‖Ĥ⁻¹‖‖H⁻¹‖), 1 = right up to scale. Per-block errors: `fidelity_blocks.csv`.\n\n");
        sb.Append("| estimator | full | within blocks | diagonal | cosine |\n|---|---:|---:|---:|---:|\n");
        foreach (var f in r.Fidelity)
            sb.Append(Inv, $"| {f.Label} | {F(f.Full)} | {F(f.WithinBlocks)} | {F(f.Diagonal)} | {F(f.Cosine)} |\n");
        sb.Append('\n');
        foreach (var img in images.Where(i => i.StartsWith("heatmap", StringComparison.Ordinal)))
            sb.Append(Inv, $"![{img}]({img})\n\n");

        sb.Append("## Curvature matrices (undamped)\n\n");
        sb.Append("Empirical Fisher (1/N)Σ gₙgₙᵀ with the true labels, Monte-Carlo true Fisher (labels drawn from the model, one draw per sample), Gauss–Newton (the exact expected Fisher for softmax cross-entropy) and the Hessian, on the same samples.\n\n");
        sb.Append("| matrix | reference | ‖A − B‖/‖B‖ | cosine | ‖A‖/‖B‖ |\n|---|---|---:|---:|---:|\n");
        foreach (var m in r.Matrices)
            sb.Append(Inv, $"| {m.Matrix} | {m.Reference} | {F(m.RelativeFrobenius)} | {F(m.Cosine)} | {F(m.NormRatio)} |\n");
        sb.Append('\n');

        sb.Append("## Loss-change prediction\n\n");
        sb.Append(Inv, $"{(r.LossChanges.Count > 0 ? r.LossChanges[0].Indices.Length : 0)} single weights (seeded) removed one at a time with each estimator's OBS update (within its block); predicted ρ_q = w_q²/(2[Ĥ⁻¹]_qq) against the measured change of the training loss on the same N samples (float64; L(w) = {G(r.BaselineLoss)}). ");
        sb.Append("*with gradient*: ρ_q + gᵀδ, adding the first-order term the OBS model drops (the gradient is not zero).\n\n");
        sb.Append("| estimator | Pearson | Spearman | Pearson (with gradient) | Spearman (with gradient) |\n|---|---:|---:|---:|---:|\n");
        foreach (var l in r.LossChanges)
            sb.Append(Inv, $"| {l.Label} | {F(l.Pearson)} | {F(l.Spearman)} | {F(l.PearsonWithGradient)} | {F(l.SpearmanWithGradient)} |\n");
        sb.Append('\n');
        var scatters = images.Where(i => i.StartsWith("loss_change", StringComparison.Ordinal)).ToList();
        if (scatters.Count > 0)
            sb.Append(string.Join(' ', scatters.Select(i => $"<img src=\"{i}\" width=\"32%\" alt=\"{i}\">"))).Append("\n\n");

        sb.Append("## One-shot pruning\n\n");
        sb.Append(Inv, $"Test accuracy (%) after one-shot pruning of the studied weights (OBS scores, global threshold, estimate built once at the dense weights); dense: {r.DenseTest.Accuracy * 100:0.00}% (loss {r.DenseTest.Loss:0.0000}).\n\n");
        var sparsities = o.Sparsities;
        sb.Append("| estimator | update | ").Append(string.Join(" | ", sparsities.Select(x => (x * 100).ToString("0.#", Inv) + "%"))).Append(" |\n");
        sb.Append("|---|---|").Append(string.Concat(sparsities.Select(_ => "---:|"))).Append('\n');
        foreach (var g in r.Curves.GroupBy(p => (p.Label, p.Update)))
            sb.Append(Inv, $"| {g.Key.Label} | {Update(g.Key.Update)} | ").Append(string.Join(" | ", g.Select(p => (p.Accuracy * 100).ToString("0.0", Inv)))).Append(" |\n");
        sb.Append('\n');
        if (images.Contains("pruning_curves.png"))
            sb.Append("![pruning curves](pruning_curves.png)\n\n");

        sb.Append("## Cost\n\n");
        sb.Append("| estimator | estimate | gradients / Hessian (s) | inverse (s) | total (s) | bytes |\n|---|---|---:|---:|---:|---:|\n");
        foreach (var c in r.Costs)
            sb.Append(Inv, $"| {c.Label} | {c.Name} | {c.GradientSeconds:0.000} | {c.InverseSeconds:0.000} | {c.TotalSeconds:0.000} | {c.Bytes:N0} |\n");
        return sb.ToString();
    }

    /// <summary>Exact block next to each estimator's, one shared colour scale (clipped at a percentile of |exact|).</summary>
    public static string Heatmap(BlockSnapshot h, string path)
    {
        var tiles = new List<(string Label, double[] Values)> { ("exact", h.Exact) };
        tiles.AddRange(h.Estimates.Select(e => (e.Key, e.Value)));
        CliPlots.Heatmap(path, string.Create(Inv, $"Inverse block {h.Block} ({h.Layer}, coordinates {h.Offset}–{h.Offset + h.Size - 1})"), h.Size, tiles,
            CliPlots.RobustLimit(h.Exact), "entry of H⁻¹");
        return path;
    }

    /// <summary>
    /// Predicted against actual loss change of single-weight removals: the OBS prediction ρ_q and, when a gradient was
    /// given, ρ_q + gᵀδ, with the line y = x.
    /// </summary>
    public static string LossScatter(LossChangeResult l, string path)
    {
        var plt = new Plot();
        var withGradient = l.Predicted.Select((p, t) => p + l.FirstOrder[t]).ToArray();
        var hasGradient = l.FirstOrder.Any(v => v != 0);
        var sc = plt.Add.ScatterPoints(l.Predicted, l.Actual);
        sc.LegendText = string.Create(Inv, $"OBS ρ_q (Pearson {l.Pearson:0.000}, Spearman {l.Spearman:0.000})");
        var all = l.Predicted.Concat(l.Actual);
        if (hasGradient)
        {
            var sg = plt.Add.ScatterPoints(withGradient, l.Actual);
            sg.MarkerShape = MarkerShape.OpenCircle;
            sg.LegendText = string.Create(Inv, $"ρ_q + gᵀδ (Pearson {l.PearsonWithGradient:0.000}, Spearman {l.SpearmanWithGradient:0.000})");
            all = all.Concat(withGradient);
        }
        var finite = all.Where(double.IsFinite).DefaultIfEmpty(0).ToArray();
        double lo = Math.Min(0, finite.Min()), hi = Math.Max(finite.Max(), lo + 1e-12);
        var line = plt.Add.Line(lo, lo, hi, hi);
        line.LinePattern = LinePattern.Dashed;
        line.Color = Colors.Gray;
        line.LegendText = "predicted = actual";
        plt.Title(string.Create(Inv, $"{l.Label}: {l.Indices.Length} single-weight OBS removals"));
        plt.XLabel("predicted loss change");
        plt.YLabel("actual loss change L(w + δ) − L(w)");
        plt.ShowLegend(Alignment.UpperLeft);
        CliPlots.Save(plt, path, PlotWidth, PlotHeight);
        return path;
    }

    /// <summary>
    /// Test accuracy against sparsity, one colour per estimator; the update tells itself apart in the legend as well as
    /// on the plot: joint solid with filled circles, independent dashed with open squares, none (magnitude) dotted with triangles.
    /// </summary>
    public static string PruningCurves(StudyResult r, string path)
    {
        var labels = r.Curves.Select(p => p.Label).Distinct().ToList();
        var series = new List<PlotSeries>();
        foreach (var g in r.Curves.GroupBy(p => (p.Label, p.Update)))
        {
            var pts = g.OrderBy(p => p.TargetSparsity).ToList();
            var (pattern, marker) = UpdateStyle(g.Key.Update);
            series.Add(new PlotSeries($"{g.Key.Label} ({Update(g.Key.Update)})", [.. pts.Select(p => p.TargetSparsity * 100)], [.. pts.Select(p => p.Accuracy * 100)])
            {
                Colour = labels.IndexOf(g.Key.Label),
                Pattern = pattern,
                Marker = marker,
            });
        }
        var xs = r.Options.Sparsities.Select(x => x * 100).DefaultIfEmpty(0).ToArray();
        series.Add(new PlotSeries("dense", [xs.Min(), xs.Max()], [r.DenseTest.Accuracy * 100, r.DenseTest.Accuracy * 100])
        {
            Colour = 7,
            Pattern = LinePattern.Dotted,
            Marker = MarkerShape.None,
        });
        CliPlots.Lines(path, string.Create(Inv, $"One-shot pruning of {string.Join(", ", r.Layers.Select(e => e.Name))} ({r.ModelSpec})"),
            "sparsity of the studied weights (%)", "test accuracy (%)", series, width: 1000, height: 650);
        return path;
    }

    /// <summary>Line pattern and marker of a curve by its update: each update its own, so the legend tells them apart too.</summary>
    internal static (LinePattern Pattern, MarkerShape Marker) UpdateStyle(UpdateMode update) => update switch
    {
        UpdateMode.Independent => (LinePattern.Dashed, MarkerShape.OpenSquare),
        UpdateMode.None => (LinePattern.Dotted, MarkerShape.FilledTriangleUp),
        _ => (LinePattern.Solid, MarkerShape.FilledCircle),
    };

    internal static string Slug(string label)
    {
        var sb = new StringBuilder();
        foreach (var ch in label.ToLowerInvariant())
        {
            if (char.IsAsciiLetterOrDigit(ch))
                sb.Append(ch);
            else if (ch is ':' or ',' or ';' or '-' or '_' && sb.Length > 0 && sb[^1] != '_')
                sb.Append('_');
        }
        return sb.ToString().Trim('_');
    }

    private static string Treatment(IndefiniteTreatment t, double damping) => t switch
    {
        IndefiniteTreatment.Absolute => string.Create(Inv, $"(|H| + λI)⁻¹, eigenvalues μ → |μ| + λ, λ = {damping:g3}"),
        IndefiniteTreatment.Clip => string.Create(Inv, $"(H₊ + λI)⁻¹, eigenvalues μ → max(μ, 0) + λ, λ = {damping:g3}"),
        _ => string.Create(Inv, $"(H + λI)⁻¹, damping only, λ = {damping:g3}"),
    };

    private static string Update(UpdateMode u) => Vocabulary.Name(u);

    private static string Join(params string[] cells) => string.Join(',', cells.Select(c => c.Contains(',') || c.Contains('"') ? $"\"{c.Replace("\"", "\"\"")}\"" : c));

    private static string N(double v) => v.ToString("R", Inv);

    private static string I(long v) => v.ToString(Inv);

    private static string G(double v) => v.ToString("g4", Inv);

    private static string F(double v) => double.IsNaN(v) ? "n/a" : Math.Abs(v) >= 1e4 || (v != 0 && Math.Abs(v) < 1e-3) ? v.ToString("0.00e0", Inv) : v.ToString("0.000", Inv);
}
