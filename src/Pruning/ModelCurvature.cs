using System.Diagnostics;
using WoodFisher.Kernels;
using WoodFisher.Models;

namespace WoodFisher.Pruning;

/// <summary>
/// Builds inverse-curvature estimates of a model's loss over a selection of its parameters (the coordinates pruning
/// sees, in <see cref="ParameterSelection{T}"/> order), from the model's own per-sample gradients, K-FAC factors or exact
/// Hessian. This is the bridge from <c>WoodFisher.Models</c> to the pruner: <see cref="Factory"/> gives the
/// <see cref="CurvatureFactory"/> that one-shot recompute and gradual pruning call at the current weights.
/// </summary>
public sealed class ModelCurvature
{
    private readonly float[] _x;
    private readonly int[] _labels;
    private readonly int _features;

    /// <summary>Creates the bridge for <paramref name="model"/> over <paramref name="selection"/> and the data (x [n, features], labels [n]).</summary>
    public ModelCurvature(IModel<float> model, ParameterSelection<float> selection, float[] x, int[] labels)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(selection);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Length == 0 || x.Length % labels.Length != 0)
        {
            throw new ArgumentException($"Inputs ({x.Length} values) do not divide into {labels.Length} samples.", nameof(x));
        }

        Model = model;
        Selection = selection;
        _x = x;
        _labels = labels;
        _features = x.Length / labels.Length;
    }

    /// <summary>The model whose selected parameters are read and written.</summary>
    public IModel<float> Model { get; }

    /// <summary>The coordinates: names, offsets, segment lengths.</summary>
    public ParameterSelection<float> Selection { get; }

    /// <summary>Samples available.</summary>
    public int SampleCount => _labels.Length;

    /// <summary>The selected parameters as one vector (length d, float64).</summary>
    public double[] GetWeights()
    {
        var w = new float[Selection.Dimension];
        Selection.Gather(w);
        return Array.ConvertAll(w, v => (double)v);
    }

    /// <summary>Writes <paramref name="weights"/> (length d) into the selected parameters (rounded to float32).</summary>
    public void SetWeights(ReadOnlySpan<double> weights)
    {
        if (weights.Length != Selection.Dimension)
        {
            throw new ArgumentException($"Expected {Selection.Dimension} weights, got {weights.Length}.", nameof(weights));
        }

        var w = new float[weights.Length];
        for (var i = 0; i < w.Length; i++)
        {
            w[i] = (float)weights[i];
        }

        Selection.Scatter(w);
    }

    /// <summary>
    /// Samples disjoint from the Fisher samples on which <see cref="Damping.Auto"/> measures the loss of each candidate
    /// (default 1,000): the samples that follow the Fisher samples in file order (or in the seeded draw); when the data
    /// hold no more, the Fisher samples themselves.
    /// </summary>
    public int CalibrationSamples { get; init; } = 1000;

    /// <summary>
    /// A factory that writes the given weights into the model, then gathers <paramref name="spec"/>'s statistics there
    /// from the gradients of the surviving weights (<see cref="Sample"/>).
    /// </summary>
    public CurvatureFactory Factory(EstimatorSpec spec, bool withGradient = false) => (weights, mask) =>
    {
        SetWeights(weights);
        return Sample(spec, mask, withGradient);
    };

    /// <summary>
    /// Gathers the statistics of <paramref name="spec"/> at the model's current weights for the surviving weights
    /// (<paramref name="mask"/> false ⇒ the coordinate's gradient column is zero, so F̂ is λ·I there, and the exact
    /// Hessian's row and column are zeroed alike; K-FAC's layer factors are not restricted). With
    /// <see cref="Damping.Auto"/> the sample judges each λ by the mean loss on <see cref="CalibrationSamples"/> calibration
    /// samples after the step (oBERT's procedure), from statistics computed once.
    /// </summary>
    /// <param name="spec">Method, samples, block size, damping.</param>
    /// <param name="mask">Length d, true = kept; empty = all kept.</param>
    /// <param name="withGradient">Also the mean loss gradient g (pruned coordinates zero); always for WoodTaylor.</param>
    public CurvatureSample Sample(EstimatorSpec spec, ReadOnlySpan<bool> mask = default, bool withGradient = false)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        if (spec.Samples > SampleCount)
        {
            throw new ArgumentOutOfRangeException(nameof(spec), spec.Samples, $"Samples must be between 1 and the {SampleCount} available.");
        }

        if (!mask.IsEmpty && mask.Length != Selection.Dimension)
        {
            throw new ArgumentException($"The mask has {mask.Length} entries but the selection has d = {Selection.Dimension}.", nameof(mask));
        }

        return new ModelSample(this, spec, mask.ToArray(), withGradient || spec.Method.UsesLossGradient);
    }

    /// <summary>
    /// How a WoodFisher or WoodTaylor estimate of <paramref name="spec"/> fits <see cref="MemoryBudget"/> (null for the
    /// other methods): per-sample gradients cannot be read by columns, so they are produced by the autograd in chunks of
    /// <see cref="PassPlan.ChunkRows"/> rows bounded by the budget and streamed into the builder; when the rows of one
    /// panel or the blocks do not fit, group of blocks by group, one pass over the samples per group, or in two passes.
    /// </summary>
    /// <exception cref="InsufficientMemoryException">Even two passes over groups of one block do not fit; the message gives the numbers.</exception>
    public PassPlan? Plan(EstimatorSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        if (spec.Method is not Methods.WoodFisherMethod || spec.Samples > SampleCount)
        {
            return null;
        }

        // The rows are averaged per mini-batch as they are computed (ModelSample), so the builder sees B = 1.
        var rows = new PerSampleGradientSource(Model, _x, _labels, spec.Samples, Selection, spec.MiniBatch);
        return Methods.WoodFisherMethod.Plan(rows, spec with { MiniBatch = 1 });
    }

    /// <summary>
    /// Builds the estimate at the model's current weights from <see cref="EstimatorSpec.Samples"/> samples (the first
    /// ones, or drawn by <see cref="EstimatorSpec.Seed"/>) with the spec's method (<see cref="PruningMethod"/>). With
    /// <paramref name="withGradient"/> or a method that uses it (WoodTaylor), also the mean loss gradient over the same
    /// samples (its first-order term). An automatic damping has nothing to judge it here: the estimate gets
    /// <see cref="EstimatorSpec.UnjudgedDamping"/> (a pruning step chooses λ through <see cref="Factory"/>).
    /// </summary>
    public CurvatureEstimate Build(EstimatorSpec spec, bool withGradient = false)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        withGradient |= spec.Method.UsesLossGradient;
        if ((spec.Method.UsesCurvature || withGradient) && spec.Samples > SampleCount)
        {
            throw new ArgumentOutOfRangeException(nameof(spec), spec.Samples, $"Samples must be between 1 and the {SampleCount} available.");
        }

        var (x, y) = Subset(Math.Min(spec.Samples, SampleCount), spec.Seed);
        var sw = Stopwatch.StartNew();
        double[]? gradient = null;
        if (withGradient)
        {
            gradient = Array.ConvertAll(LossGradient.Mean(Model, x, y, y.Length, Selection), v => (double)v);
        }

        var meanGradientSeconds = sw.Elapsed.TotalSeconds;
        var estimate = spec.Method.FromModel(this, x, y, spec);
        return estimate with { Gradient = gradient, GradientSeconds = meanGradientSeconds + estimate.GradientSeconds };
    }

    /// <summary>
    /// K-FAC factors of the selected layers, as <see cref="KfacLayer"/>s in selection order. A layer's bias is modelled
    /// (a trailing 1 in the input factor) exactly when the selection holds it right after the weight.
    /// </summary>
    public IReadOnlyList<KfacLayer> KfacLayers(float[] x, int[] labels, int count)
    {
        var entries = Selection.Entries;
        var anyBias = entries.Any(e => !e.IsPrunable);
        var factors = KfacFactors.Compute(Model, x, labels, count, includeBias: anyBias);
        var byWeight = factors.ToDictionary(f => f.WeightName);
        var layers = new List<KfacLayer>();
        for (var i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            if (!byWeight.TryGetValue(e.Name, out var f))
            {
                throw new NotSupportedException($"K-FAC covers the weights of Linear and Conv2d layers; '{e.Name}' is not one (select weights only, or their biases right after them).");
            }

            var hasBias = f.BiasName is not null && i + 1 < entries.Count && entries[i + 1].Name == f.BiasName;
            var modelledBias = anyBias && f.BiasName is not null;
            var inFeatures = f.DimA - (modelledBias ? 1 : 0);
            var a = hasBias || !modelledBias ? f.A : TopLeft(f.A, f.DimA, inFeatures);
            if (e.Length != f.DimG * inFeatures)
            {
                throw new InvalidOperationException($"K-FAC factors of '{e.Name}' ({f.DimG} × {inFeatures}) do not match its {e.Length} coordinates.");
            }

            layers.Add(new KfacLayer(f.DimG, inFeatures, a, f.G, hasBias));
            if (hasBias)
            {
                i++;
            }
        }

        return layers;
    }

    /// <summary>The first <paramref name="count"/> samples, or <paramref name="count"/> drawn without replacement by <paramref name="seed"/>.</summary>
    public (float[] X, int[] Labels) Subset(int count, int? seed) => Subset(0, count, seed);

    /// <summary>Samples [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) in file order, or of the draw by <paramref name="seed"/>.</summary>
    internal (float[] X, int[] Labels) Subset(int start, int count, int? seed)
    {
        if (seed is null && start == 0 && count == SampleCount)
        {
            return (_x, _labels);
        }

        var order = Enumerable.Range(0, SampleCount).ToArray();
        if (seed is { } s)
        {
            new Random(s).Shuffle(order);
        }

        var x = new float[(long)count * _features];
        var y = new int[count];
        for (var i = 0; i < count; i++)
        {
            Array.Copy(_x, (long)order[start + i] * _features, x, (long)i * _features, _features);
            y[i] = _labels[order[start + i]];
        }

        return (x, y);
    }

    private static double[] TopLeft(double[] a, int n, int k)
    {
        var r = new double[k * k];
        for (var i = 0; i < k; i++)
        {
            Array.Copy(a, i * n, r, i * k, k);
        }

        return r;
    }
}
