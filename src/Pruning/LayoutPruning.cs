using System.Globalization;
using WoodFisher.IO;
using WoodFisher.Kernels;
using WoodFisher.Models;

namespace WoodFisher.Pruning;

/// <summary>The outcome of <see cref="LayoutPruning.Prune"/>.</summary>
/// <param name="Model">The pruned model: the layout's tensors replaced (same names, shapes and dtypes), every other
/// tensor and the <c>__metadata__</c> entries kept as they were, plus <c>woodfisher.pruning</c>.</param>
/// <param name="Result">The pruner's result over the flat vector (layout order).</param>
/// <param name="Report">Per-tensor sparsity, timings and settings.</param>
public sealed record LayoutPruningResult(SafeTensorsFile Model, PruningResult Result, PruningReport Report);

/// <summary>
/// Prunes a model of any architecture from its safetensors weights and a gradient file G described by a
/// <see cref="GradientLayout"/>: the layout's tensors are gathered by name into one flat vector in layout order, the
/// layout's tensors become the segments (blocks restart at each), and <see cref="TensorPruning"/> prunes that vector, so
/// every method and option tensor mode supports applies. The pruned values are written back under the same names in
/// each tensor's own dtype; no other tensor (biases outside the layout, BatchNorm buffers, integer counters) is touched.
/// </summary>
public static class LayoutPruning
{
    /// <summary>Metadata key recording how a model was pruned.</summary>
    public const string MetadataKey = "woodfisher.pruning";

    /// <summary>
    /// Checks that the model holds every layout tensor with the layout's shape and a floating dtype (F32, F64, F16),
    /// that every tensor of the model can be written back, and that G has d columns (and the layout's rows, when stated).
    /// </summary>
    /// <exception cref="ArgumentException">A mismatch; the message names the tensor.</exception>
    public static void Check(SafeTensorsFile model, GradientLayout layout, IGradientSource? gradients = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(layout);
        foreach (var t in layout.Tensors)
        {
            if (!model.Contains(t.Name))
            {
                var names = model.Tensors.Select(n => n.Name).ToList();
                var listed = string.Join(", ", names.Take(12)) + (names.Count > 12 ? $", … ({names.Count} in all)" : "");
                throw new ArgumentException($"The layout names tensor '{t.Name}' but the model has no tensor of that name; it has {listed}.");
            }

            var a = model[t.Name];
            if (a.DType is not (DType.Float32 or DType.Float64 or DType.Float16))
            {
                throw new ArgumentException($"Tensor '{t.Name}' is {a.DType} in the model; only F32, F64 and F16 tensors can be pruned.");
            }

            if (!a.Shape.SequenceEqual(t.Shape.Select(v => (long)v)))
            {
                throw new ArgumentException($"Tensor '{t.Name}' has shape [{string.Join(", ", a.Shape)}] in the model but {GradientLayout.FormatShape(t.Shape)} in the layout.");
            }
        }

        var bf16 = model.Tensors.FirstOrDefault(n => n.Array.DType == DType.BFloat16);
        if (bf16 is not null)
        {
            throw new ArgumentException($"Tensor '{bf16.Name}' is BF16, which cannot be written back yet; convert the model to F32 or F16 first (e.g. model.float() in PyTorch).");
        }

        if (gradients is not null)
        {
            layout.CheckGradients(gradients.Count < 0 ? layout.Rows ?? 0 : gradients.Count, gradients.Dimension);
        }
    }

    /// <summary>The layout's tensors gathered from the model into one vector (length d, layout order, float64).</summary>
    public static double[] Gather(SafeTensorsFile model, GradientLayout layout)
    {
        Check(model, layout);
        var w = new double[layout.Dimension];
        foreach (var t in layout.Tensors)
        {
            model[t.Name].ToFloat64().CopyTo(w, t.Offset);
        }

        return w;
    }

    /// <summary>
    /// A copy of the model with the layout's tensors replaced by <paramref name="weights"/> (length d, layout order),
    /// each rounded to its tensor's dtype; the other tensors (the same arrays, so bit-exact), their order and the
    /// metadata are kept, plus <paramref name="metadata"/> entries.
    /// </summary>
    public static SafeTensorsFile Scatter(SafeTensorsFile model, GradientLayout layout, ReadOnlySpan<double> weights, IReadOnlyDictionary<string, string>? metadata = null)
    {
        Check(model, layout);
        if (weights.Length != layout.Dimension)
        {
            throw new ArgumentException($"There are {weights.Length} weights for a layout of d = {layout.Dimension}.", nameof(weights));
        }

        var tensors = new List<NamedArray>(model.Tensors.Count);
        foreach (var named in model.Tensors)
        {
            var t = layout.Find(named.Name);
            tensors.Add(t is null ? named : new NamedArray(named.Name, Convert(weights.Slice(t.Offset, t.Length), named.Array)));
        }

        var meta = new Dictionary<string, string>(model.Metadata, StringComparer.Ordinal);
        foreach (var (k, v) in metadata ?? new Dictionary<string, string>())
        {
            meta[k] = v;
        }

        return new SafeTensorsFile(tensors, meta);
    }

    /// <summary>
    /// Prunes the layout's tensors of <paramref name="model"/> with H⁻¹ from <paramref name="gradients"/>
    /// (<see cref="TensorPruning.Prune"/> over the gathered vector with segments = the layout's tensors).
    /// Everything is checked before any work.
    /// </summary>
    /// <param name="model">The model's tensors (e.g. <see cref="SafeTensors.Read(string)"/> of a PyTorch state dict).</param>
    /// <param name="layout">Which columns of G belong to which tensor.</param>
    /// <param name="gradients">Rows of G (rows × d); null only for magnitude pruning.</param>
    /// <param name="options">Method, update, sparsity, selection; <see cref="PrunerOptions.Segments"/> must be null or the
    /// layout's; <see cref="PrunerOptions.PrunableSegments"/>, when given, has one flag per layout tensor (false = keep
    /// it dense but let its columns enter H⁻¹); with <see cref="PrunerOptions.RecomputeSteps"/> K &gt; 1 each step
    /// rebuilds H⁻¹ from G restricted to the surviving weights.</param>
    /// <param name="estimator">λ (fixed or automatic), block size c and the other estimator settings; null = the defaults.</param>
    /// <param name="progress">Receives the damping search's lines.</param>
    /// <exception cref="ArgumentException">Model, layout, G or options disagree.</exception>
    public static LayoutPruningResult Prune(SafeTensorsFile model, GradientLayout layout, IGradientSource? gradients, PrunerOptions options, EstimatorSpec? estimator = null, IProgress<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Check(model, layout, gradients);
        if (options.Segments is not null && !options.Segments.SequenceEqual(layout.Segments))
        {
            throw new ArgumentException("Options.Segments must be null or the layout's tensor lengths; the layout sets the segments.", nameof(options));
        }

        TensorPruning.CheckInputs(layout.Dimension, gradients, options, estimator);

        var d = layout.Dimension;
        // The pruner holds about five length-d vectors (weights, a working copy, scores, mask, removal flags).
        MemoryBudget.Require(MemoryBudget.Product(d, 5 * sizeof(double)), $"Pruning d = {d} weights");
        var opts = options with { Segments = layout.Segments };
        var w = Gather(model, layout);
        var result = TensorPruning.Prune(w, gradients, opts, estimator, default, progress);
        var c = estimator ?? new EstimatorSpec();
        var report = PruningReport.Create(opts, result, layout.Names) with
        {
            Settings = new PruningSettings
            {
                Damping = options.Method.UsesCurvature ? c.FixedDamping : null,
                BlockSize = options.Method == PruningMethod.WoodFisher || options.Method == PruningMethod.WoodTaylor ? c.BlockSizeFor(d) : null,
                FisherSamples = gradients is { Count: >= 0 } && layout.MiniBatch is { } b ? (int)Math.Min(int.MaxValue, gradients.Count * b) : null,
                FisherMiniBatch = layout.MiniBatch,
                GradientStep = options.GradientStep,
                Precision = c.Precision,
                Backend = c.Backend,
            },
        };
        var note = string.Create(CultureInfo.InvariantCulture, $"{options.Method.Name} {options.EffectiveUpdate.ToString().ToLowerInvariant()} s={options.Sparsity}");
        var pruned = Scatter(model, layout, result.Weights, new Dictionary<string, string> { [MetadataKey] = note });
        return new LayoutPruningResult(pruned, result, report);
    }

    /// <summary>
    /// A length-d vector in layout order (the mask, true = kept; the scores) split into one tensor per layout tensor,
    /// same names and shapes: write it with <see cref="SafeTensors"/> next to the pruned model.
    /// </summary>
    public static IReadOnlyList<NamedArray> Split<T>(GradientLayout layout, ReadOnlySpan<T> values) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (values.Length != layout.Dimension)
        {
            throw new ArgumentException($"There are {values.Length} values for a layout of d = {layout.Dimension}.", nameof(values));
        }

        var list = new List<NamedArray>(layout.Tensors.Count);
        foreach (var t in layout.Tensors)
        {
            list.Add(new NamedArray(t.Name, NdArray.Create(values.Slice(t.Offset, t.Length).ToArray(), [.. t.Shape.Select(v => (long)v)])));
        }

        return list;
    }

    private static NdArray Convert(ReadOnlySpan<double> values, NdArray like)
    {
        var shape = like.ShapeInt64();
        switch (like.DType)
        {
            case DType.Float32:
                {
                    var f = new float[values.Length];
                    for (var i = 0; i < f.Length; i++)
                    {
                        f[i] = (float)values[i];
                    }

                    return NdArray.Create(f, shape);
                }

            case DType.Float64:
                return NdArray.Create(values.ToArray(), shape);
            case DType.Float16:
                {
                    var h = new Half[values.Length];
                    for (var i = 0; i < h.Length; i++)
                    {
                        h[i] = (Half)values[i];
                    }

                    return NdArray.Create(h, shape);
                }

            default:
                throw new ArgumentException($"Cannot write pruned weights as {like.DType}.");
        }
    }
}
