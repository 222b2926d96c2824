using System.Diagnostics;
using System.Globalization;
using WoodFisher.Pruning.Internal;

namespace WoodFisher.Pruning;

/// <summary>
/// One-shot pruning of a flat weight vector w (length d, parameter order, segments = layers), model-agnostic:
/// for k = 1..K (K = <see cref="PrunerOptions.RecomputeSteps"/>) it asks the factory for a <see cref="CurvatureSample"/>
/// at the current weights and mask, builds H⁻¹ (and takes g) from it, scores every weight, selects the pruned set for
/// the target s_k of <see cref="OneShotSchedule"/> (starting from the sparsity the input mask already has) and updates
/// the weights. Weights pruned in earlier steps (or by the input mask) stay in Q with w_Q = 0, so the joint update
/// keeps them at zero. When the sample carries a damping grid (<see cref="Damping.Auto"/>), each step is taken once per
/// λ tried from the same statistics (the grid walked, or all of it with <see cref="PrunerOptions.WholeDampingGrid"/>) and
/// the λ with the lowest criterion is kept (<see cref="PruningStep.Damping"/>).
/// </summary>
public sealed class Pruner
{
    /// <summary>Validates and keeps the options.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Sparsity outside [0, 1) or K &lt; 1.</exception>
    public Pruner(PrunerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        MaskSelection.CheckSparsity(options.Sparsity, nameof(options.Sparsity));
        if (!(options.GradientStep >= 0) || !double.IsFinite(options.GradientStep))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.GradientStep, "GradientStep η must be finite and non-negative.");
        }

        if (options.GradientStepGrid?.Any(eta => !(eta >= 0) || !double.IsFinite(eta)) == true)
        {
            throw new ArgumentOutOfRangeException(nameof(options), string.Join(", ", options.GradientStepGrid), "Every η of GradientStepGrid must be finite and non-negative.");
        }

        if (options.RecomputeSteps < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.RecomputeSteps, "RecomputeSteps K must be at least 1.");
        }

        Options = options;
    }

    /// <summary>The options.</summary>
    public PrunerOptions Options { get; }

    /// <summary>Prunes with a curvature factory called once per recompute step.</summary>
    /// <param name="weights">w (length d).</param>
    /// <param name="factory">The curvature sample at given weights and mask; may be null only for <see cref="PruningMethod.Magnitude"/> (then H⁻¹ = I).</param>
    /// <param name="mask">Current mask (length d, true = kept, false = pruned) or empty for all kept; pruned weights stay pruned.</param>
    /// <param name="progress">Receives one line per damping candidate and per choice, e.g. for a console.</param>
    /// <exception cref="ArgumentException">Mask, segments, estimate or gradient do not match d.</exception>
    /// <exception cref="InvalidOperationException">WoodTaylor without a gradient, or a magnitude-less method without a factory.</exception>
    public PruningResult Prune(ReadOnlySpan<double> weights, CurvatureFactory? factory, ReadOnlySpan<bool> mask = default, IProgress<string>? progress = null)
    {
        var o = Options;
        var d = weights.Length;
        if (d < 1)
        {
            throw new ArgumentException("There are no weights to prune.", nameof(weights));
        }

        if (!mask.IsEmpty && mask.Length != d)
        {
            throw new ArgumentException($"Mask has length {mask.Length}, but the weights have d = {d}.", nameof(mask));
        }

        var segments = MaskSelection.CheckSegments(o.Segments, d, o.PrunableSegments);
        var method = o.Method;
        if (factory is null && method.UsesCurvature)
        {
            throw new InvalidOperationException($"Method {method.Name} needs a curvature factory; only magnitude pruning runs without one.");
        }

        var w = weights.ToArray();
        var m = mask.IsEmpty ? Enumerable.Repeat(true, d).ToArray() : mask.ToArray();
        for (var i = 0; i < d; i++)
        {
            if (!m[i])
            {
                w[i] = 0;
            }
        }

        var layout = o.Pattern.IsStructured ? new PatternLayout(segments, o.SegmentShapes, o.PrunableSegments) : null;
        var schedule = new OneShotSchedule(PatternSelection.Target(o), o.RecomputeSteps, o.Stepping, PatternSelection.Measure(o, layout, m, segments));
        var clock = Stopwatch.StartNew();
        var first = factory is null ? null : factory((double[])w.Clone(), (bool[])m.Clone());
        var firstTimings = first is null ? new PhaseTimings() : new PhaseTimings { Gradients = first.GradientSeconds, Inverse = Math.Max(0, clock.Elapsed.TotalSeconds - first.GradientSeconds) };
        try
        {
            if (first is not null && o.RecomputeSteps > 1 && first.DampingGrid.Count > 1)
            {
                return WholeRuns(w, m, schedule, segments, layout, factory!, (first, firstTimings), progress);
            }

            var run = Run(w, m, schedule, segments, layout, factory, (first, firstTimings), null, progress);
            return Result(run, run.Timings, segments);
        }
        finally
        {
            first?.Dispose();
        }
    }

    /// <summary>
    /// Prunes w with one fixed estimate H⁻¹ = <paramref name="inverse"/> and, for WoodTaylor, the loss gradient
    /// <paramref name="gradient"/> (length d). With K &gt; 1 the same estimate serves every step (to re-estimate from the
    /// gradients of the surviving weights at each step, pass a factory such as <see cref="GradientCurvature.Factory"/>).
    /// The estimate is not disposed.
    /// </summary>
    /// <param name="weights">w (length d).</param>
    /// <param name="inverse">H⁻¹ (dimension d).</param>
    /// <param name="gradient">g (length d) for WoodTaylor, or empty.</param>
    /// <param name="mask">Current mask (length d, true = kept, false = pruned) or empty for all kept; pruned weights stay pruned.</param>
    public PruningResult Prune(ReadOnlySpan<double> weights, IInverseCurvature inverse, ReadOnlySpan<double> gradient = default, ReadOnlySpan<bool> mask = default)
    {
        ArgumentNullException.ThrowIfNull(inverse);
        if (!gradient.IsEmpty && gradient.Length != weights.Length)
        {
            throw new ArgumentException($"Weights have d = {weights.Length} coordinates but the gradient has {gradient.Length}.", nameof(gradient));
        }

        var g = gradient.IsEmpty ? null : gradient.ToArray();
        return Prune(weights, (_, _) => new CurvatureEstimate(inverse) { Gradient = g, DisposeAfterUse = false }, mask);
    }

    /// <summary>
    /// With K &gt; 1 recompute steps and a damping grid, λ is chosen for the whole run, not greedily per step: the K
    /// steps are run once per λ tried (the first step's statistics shared), each final result is judged by the
    /// last step's criterion against the starting weights, and the best run is kept (the one-standard-error rule as in
    /// a single step). Its last step records the choice.
    /// </summary>
    private PruningResult WholeRuns(double[] w, bool[] m, OneShotSchedule schedule, int[] segments, PatternLayout? layout, CurvatureFactory factory, (CurvatureSample Sample, PhaseTimings Timings) first, IProgress<string>? progress)
    {
        var grid = first.Sample.DampingGrid;
        var runs = new RunResult[grid.Count];
        var values = new CriterionValue[grid.Count];
        var total = new PhaseTimings();
        var firstRun = true;
        CriterionValue Evaluate(int i)
        {
            // The first step's statistics are gathered once, so their time counts once.
            runs[i] = Run(w, m, schedule, segments, layout, factory, firstRun ? first : (first.Sample, new PhaseTimings()), grid[i], progress);
            firstRun = false;
            values[i] = runs[i].Final;
            total += runs[i].Timings;
            progress?.Report(string.Create(CultureInfo.InvariantCulture, $"λ = {grid[i]:g3} for all {Options.RecomputeSteps} steps: {runs[i].CriterionName} {values[i].Value:g6}"));
            return values[i];
        }

        var tried = DampingWalk.Indices(grid.Count, Evaluate, first.Sample.OneStandardErrorRule, Options.WholeDampingGrid);
        var best = tried[Choose([.. tried.Select(i => values[i])], first.Sample.OneStandardErrorRule)];
        var chosen = runs[best];
        progress?.Report(string.Create(CultureInfo.InvariantCulture, $"chose λ = {grid[best]:g3} for all {Options.RecomputeSteps} steps ({chosen.CriterionName} {values[best].Value:g6})"));
        var selection = new DampingSelection($"{chosen.CriterionName} after all {Options.RecomputeSteps} steps", [.. tried.Select(i => grid[i])], [.. tried.Select(i => values[i].Value)], grid[best])
        {
            StandardErrors = [.. tried.Select(i => values[i].StandardError)],
            ChosenGradientStep = chosen.Steps[^1].Damping?.ChosenGradientStep ?? Options.GradientStep,
        };
        chosen.Steps[^1] = chosen.Steps[^1] with { Damping = selection };
        return Result(chosen, total, segments);
    }

    /// <summary>
    /// The K recompute steps from (w, m): each step's sample comes from the factory (the first step's may be given),
    /// H⁻¹ is built at <paramref name="lambda"/> when given, else at the sample's own damping or by a per-step search.
    /// With <paramref name="lambda"/>, the final result is judged by the last step's criterion.
    /// </summary>
    private RunResult Run(double[] w, bool[] m, OneShotSchedule schedule, int[] segments, PatternLayout? layout, CurvatureFactory? factory, (CurvatureSample? Sample, PhaseTimings Timings) first, double? lambda, IProgress<string>? progress)
    {
        var o = Options;
        var d = w.Length;
        var start = w;
        var steps = new List<PruningStep>();
        var total = new PhaseTimings();
        double[] scores = [];
        var final = new CriterionValue(double.NaN);
        var criterion = "";
        for (var k = 1; k <= o.RecomputeSteps; k++)
        {
            var sk = schedule.SparsityAt(k);
            var sw = Stopwatch.StartNew();
            var sample = k == 1 && first.Sample is not null ? first.Sample : factory is null ? new CurvatureEstimate(new IdentityCurvature(d)) : factory((double[])w.Clone(), (bool[])m.Clone());
            try
            {
                // Factory time not reported as gradient time was spent building (a factory that returns a built estimate).
                var timings = k == 1 && first.Sample is not null ? first.Timings : new PhaseTimings { Gradients = sample.GradientSeconds, Inverse = Math.Max(0, sw.Elapsed.TotalSeconds - sample.GradientSeconds) };
                var etas = o.Method.UsesLossGradient && o.GradientStepGrid is { Count: > 0 } searched && sample.CanJudge ? searched : [o.GradientStep];
                IReadOnlyList<double> lambdas = lambda is { } l ? [l] : sample.DampingGrid.Count > 0 ? sample.DampingGrid : [double.NaN];
                var label = string.Create(CultureInfo.InvariantCulture, $"step {k}/{o.RecomputeSteps}");
                Outcome chosen;
                DampingSelection? selection = null;
                if (lambdas.Count == 1 && etas.Count == 1)
                {
                    chosen = Step(() => double.IsNaN(lambdas[0]) ? sample.Build() : sample.Build(lambdas[0]), sample, w, m, sk, segments, layout, etas)[0];
                }
                else
                {
                    (chosen, selection) = Search(sample, lambdas, lambda is not null, w, m, sk, segments, layout, etas, label, progress);
                }

                timings += chosen.Timings;
                w = chosen.Weights;
                m = chosen.Mask;
                scores = chosen.Scores;
                total += timings;
                steps.Add(new PruningStep(k, sk, PatternSelection.Measure(o, layout, m, segments), chosen.Estimator, chosen.Bytes, timings) { Damping = selection });
                if (lambda is not null && k == o.RecomputeSteps)
                {
                    final = sample.Criterion(start, w, m);
                    final = double.IsNaN(final.Value) ? final with { Value = double.PositiveInfinity } : final;
                    criterion = sample.CriterionName;
                }
            }
            finally
            {
                if (!ReferenceEquals(sample, first.Sample))
                {
                    sample.Dispose();
                }
            }
        }

        return new RunResult(w, m, scores, steps, total, final, criterion);
    }

    private PruningResult Result(RunResult run, PhaseTimings total, int[] segments) =>
        new(run.Weights, run.Mask, run.Scores, MaskSelection.SegmentSparsity(run.Mask, segments), MaskSelection.Sparsity(run.Mask, segments, Options.PrunableSegments), total, run.Steps);

    /// <summary>The lowest value, or with the one-standard-error rule the last (largest-λ) value within one standard error of it.</summary>
    private static int Choose(CriterionValue[] values, bool oneStandardError)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            best = values[i].Value < values[best].Value ? i : best;
        }

        if (oneStandardError)
        {
            var bound = values[best].Value + values[best].StandardError;
            for (var i = values.Length - 1; i > best; i--)
            {
                if (values[i].Value <= bound)
                {
                    return i;
                }
            }
        }

        return best;
    }

    /// <summary>
    /// The search of one step: each λ tried from <paramref name="lambdas"/> (<see cref="DampingWalk"/>) is built once
    /// (from the candidate statistics, or all of them when <paramref name="allRows"/>; NaN = the sample's own damping)
    /// and tried with every η; per λ the lowest criterion over η counts. The lowest λ wins, or, when the sample asks for
    /// the one-standard-error rule, the largest λ whose criterion is within one standard error of the lowest. Timings of
    /// every trial are summed into the returned outcome.
    /// </summary>
    private (Outcome Chosen, DampingSelection Selection) Search(CurvatureSample sample, IReadOnlyList<double> lambdas, bool allRows, double[] w, bool[] m, double sk, int[] segments, PatternLayout? layout, IReadOnlyList<double> etas, string label, IProgress<string>? progress)
    {
        var values = new CriterionValue[lambdas.Count];
        var bests = new Outcome[lambdas.Count];
        var timings = new PhaseTimings();
        CriterionValue Evaluate(int i)
        {
            var lambda = lambdas[i];
            values[i] = new CriterionValue(double.PositiveInfinity);
            foreach (var outcome in Step(() => double.IsNaN(lambda) ? sample.Build() : allRows ? sample.Build(lambda) : sample.BuildCandidate(lambda), sample, w, m, sk, segments, layout, etas))
            {
                timings += outcome.Timings;
                var value = sample.Criterion(w, outcome.Weights, outcome.Mask);
                var v = double.IsNaN(value.Value) ? double.PositiveInfinity : value.Value;
                progress?.Report(string.Create(CultureInfo.InvariantCulture, $"{label}: λ = {Lambda(lambda)}{Eta(outcome)}, {sample.CriterionName} {v:g6}"));
                if (bests[i] is null || v < values[i].Value)
                {
                    (values[i], bests[i]) = (value with { Value = v }, outcome with { Damping = lambda });
                }
            }

            return values[i];
        }

        var tried = DampingWalk.Indices(lambdas.Count, Evaluate, sample.OneStandardErrorRule, Options.WholeDampingGrid);
        var best = tried[Choose([.. tried.Select(i => values[i])], sample.OneStandardErrorRule)];
        var chosen = bests[best];
        var rule = sample.OneStandardErrorRule ? ", the largest λ within one standard error of the lowest" : "";
        progress?.Report(string.Create(CultureInfo.InvariantCulture, $"{label}: chose λ = {Lambda(chosen.Damping)}{Eta(chosen)} ({sample.CriterionName} {values[best].Value:g6}{rule})"));
        var selection = new DampingSelection(sample.CriterionName, [.. tried.Select(i => lambdas[i])], [.. tried.Select(i => values[i].Value)], chosen.Damping)
        {
            StandardErrors = [.. tried.Select(i => values[i].StandardError)],
            GradientSteps = etas.Count > 1 ? etas.ToArray() : [],
            ChosenGradientStep = chosen.GradientStep,
        };
        if (sample.RebuildChosen && !allRows && !double.IsNaN(chosen.Damping))
        {
            var rebuilt = Step(() => sample.Build(chosen.Damping), sample, w, m, sk, segments, layout, [chosen.GradientStep])[0];
            timings += rebuilt.Timings;
            chosen = rebuilt with { Damping = chosen.Damping };
        }

        return (chosen with { Timings = timings }, selection);

        string Eta(Outcome outcome) => etas.Count > 1 ? string.Create(CultureInfo.InvariantCulture, $", η = {outcome.GradientStep:g3}") : "";
        static string Lambda(double lambda) => double.IsNaN(lambda) ? "fixed" : lambda.ToString("g3", CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Builds one estimate and takes the step with it once per WoodTaylor step η: scores, selection to s_k, update.
    /// The build time counts in the first outcome. Disposes the estimate when it says so.
    /// </summary>
    private Outcome[] Step(Func<CurvatureEstimate> build, CurvatureSample sample, double[] weights, bool[] mask, double sk, int[] segments, PatternLayout? layout, IReadOnlyList<double> etas)
    {
        var o = Options;
        var d = weights.Length;
        var sw = Stopwatch.StartNew();
        var estimate = build();
        var buildSeconds = sw.Elapsed.TotalSeconds;
        try
        {
            var inverse = estimate.Inverse ?? throw new InvalidOperationException("The curvature factory returned no inverse.");
            if (inverse.Dimension != d)
            {
                throw new ArgumentException($"The curvature estimate has dimension {inverse.Dimension}, but the weights have d = {d}.", "factory");
            }

            var gradient = estimate.Gradient ?? sample.Gradient;
            if (gradient is not null && gradient.Length != d)
            {
                throw new ArgumentException($"The gradient has length {gradient.Length}, but the weights have d = {d}.", "factory");
            }

            var outcomes = new Outcome[etas.Count];
            double[]? inverseTimesGradient = null;
            for (var e = 0; e < etas.Count; e++)
            {
                var w = (double[])weights.Clone();
                sw.Restart();
                double[]? step = null;
                if (o.Method.UsesLossGradient)
                {
                    var g = gradient ?? throw new InvalidOperationException($"{o.Method.Name} needs the loss gradient g: the curvature factory must set CurvatureEstimate.Gradient.");
                    inverseTimesGradient ??= WoodTaylorScore.NewtonStep(inverse, g);
                    step = Array.ConvertAll(inverseTimesGradient, v => v * etas[e]);
                }

                var scores = o.Method.Score(w, inverse, step);
                var m = PatternSelection.ForStep(o, layout, scores, w, step, inverse, mask, sk, segments);
                var selectionSeconds = sw.Elapsed.TotalSeconds;
                sw.Restart();
                ObsWeightUpdate.Apply(o.EffectiveUpdate, inverse, w, m, step);
                var timings = new PhaseTimings
                {
                    Gradients = e == 0 ? estimate.GradientSeconds : 0,
                    Inverse = e == 0 ? Math.Max(0, buildSeconds - estimate.GradientSeconds) : 0,
                    Selection = selectionSeconds,
                    Update = sw.Elapsed.TotalSeconds,
                };
                outcomes[e] = new Outcome(w, m, scores, inverse.Name, inverse.Bytes, timings) { GradientStep = etas[e] };
            }

            return outcomes;
        }
        finally
        {
            if (estimate.DisposeAfterUse && estimate.Inverse is IDisposable disposable)
            {
                disposable.Dispose();
            }
        }
    }

    private sealed record RunResult(double[] Weights, bool[] Mask, double[] Scores, List<PruningStep> Steps, PhaseTimings Timings, CriterionValue Final, string CriterionName);

    private sealed record Outcome(double[] Weights, bool[] Mask, double[] Scores, string Estimator, long Bytes, PhaseTimings Timings)
    {
        public double Damping { get; init; } = double.NaN;

        public double GradientStep { get; init; }
    }
}
