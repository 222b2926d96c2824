using System.Diagnostics;

namespace WoodFisher.Pruning;

/// <summary>
/// One-shot pruning of a flat weight vector w (length d, parameter order, segments = layers), model-agnostic:
/// for k = 1..K (K = <see cref="PrunerOptions.RecomputeSteps"/>) it asks the factory for H⁻¹ (and g) at the current
/// weights, scores every weight, selects the pruned set for the target s_k of <see cref="OneShotSchedule"/> (starting
/// from the sparsity the input mask already has) and updates the weights. Weights pruned in earlier steps (or by the
/// input mask) stay in Q with w_Q = 0, so the joint update keeps them at zero. K = 1 is tensor mode: one estimate, one
/// selection, one update.
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
    /// <param name="factory">H⁻¹ (and g) at given weights; may be null only for <see cref="PruningMethod.Magnitude"/> (then H⁻¹ = I).</param>
    /// <param name="mask">Current mask (length d, true = kept, false = pruned) or empty for all kept; pruned weights stay pruned.</param>
    /// <exception cref="ArgumentException">Mask, segments, estimate or gradient do not match d.</exception>
    /// <exception cref="InvalidOperationException">WoodTaylor without a gradient, or a magnitude-less method without a factory.</exception>
    public PruningResult Prune(ReadOnlySpan<double> weights, CurvatureFactory? factory, ReadOnlySpan<bool> mask = default)
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
        var steps = new List<PruningStep>();
        var total = new PhaseTimings();
        double[] scores = [];
        for (var k = 1; k <= o.RecomputeSteps; k++)
        {
            var sk = schedule.SparsityAt(k);
            var sw = Stopwatch.StartNew();
            var estimate = factory is null ? new CurvatureEstimate(new IdentityCurvature(d)) : factory((double[])w.Clone());
            var factorySeconds = sw.Elapsed.TotalSeconds;
            try
            {
                var inverse = estimate.Inverse ?? throw new InvalidOperationException("The curvature factory returned no inverse.");
                if (inverse.Dimension != d)
                {
                    throw new ArgumentException($"The curvature estimate has dimension {inverse.Dimension}, but the weights have d = {d}.", nameof(factory));
                }

                if (estimate.Gradient is not null && estimate.Gradient.Length != d)
                {
                    throw new ArgumentException($"The gradient has length {estimate.Gradient.Length}, but the weights have d = {d}.", nameof(factory));
                }

                sw.Restart();
                double[]? inverseTimesGradient = null;
                if (method.UsesLossGradient)
                {
                    var g = estimate.Gradient ?? throw new InvalidOperationException($"{method.Name} needs the loss gradient g: the curvature factory must set CurvatureEstimate.Gradient.");
                    inverseTimesGradient = inverse.Multiply(g);
                    if (o.GradientStep != 1)
                    {
                        for (var i = 0; i < d; i++)
                        {
                            inverseTimesGradient[i] *= o.GradientStep;
                        }
                    }
                }

                scores = method.Score(w, inverse, inverseTimesGradient);

                m = PatternSelection.ForStep(o, layout, scores, w, inverseTimesGradient, inverse, m, sk, segments);
                var selectionSeconds = sw.Elapsed.TotalSeconds;

                sw.Restart();
                ObsWeightUpdate.Apply(o.EffectiveUpdate, inverse, w, m, inverseTimesGradient);
                var updateSeconds = sw.Elapsed.TotalSeconds;

                var gradientSeconds = estimate.GradientSeconds;
                var timings = new PhaseTimings
                {
                    Gradients = gradientSeconds,
                    Inverse = estimate.InverseSeconds > 0 ? estimate.InverseSeconds : Math.Max(0, factorySeconds - gradientSeconds),
                    Selection = selectionSeconds,
                    Update = updateSeconds,
                };
                total += timings;
                steps.Add(new PruningStep(k, sk, PatternSelection.Measure(o, layout, m, segments), inverse.Name, inverse.Bytes, timings));
            }
            finally
            {
                if (estimate.DisposeAfterUse && estimate.Inverse is IDisposable disposable)
                {
                    disposable.Dispose();
                }
            }
        }

        return new PruningResult(w, m, scores, MaskSelection.SegmentSparsity(m, segments), MaskSelection.Sparsity(m, segments, o.PrunableSegments), total, steps);
    }

    /// <summary>
    /// Tensor mode with a fixed estimate: prunes w with H⁻¹ = <paramref name="inverse"/> and, for WoodTaylor, the loss
    /// gradient <paramref name="gradient"/> (length d). With K &gt; 1 the same estimate serves every step. The estimate is not disposed.
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
        return Prune(weights, _ => new CurvatureEstimate(inverse) { Gradient = g, DisposeAfterUse = false }, mask);
    }
}
