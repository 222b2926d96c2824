using System.Diagnostics;
using WoodFisher.Kernels;
using WoodFisher.Models;
using WoodFisher.Pruning.Methods;

namespace WoodFisher.Pruning;

/// <summary>
/// Tensor mode: prunes a flat weight vector w (length d, segments = layers) with H⁻¹ estimated from gradient rows
/// alone (a G.npy written by any framework, or any other <see cref="IGradientSource"/>), no model needed. The methods
/// that need only G: magnitude (H⁻¹ = I), diagonal Fisher, WoodFisher and WoodTaylor (g = the mean row of G).
/// K-FAC and the exact Hessian need a model to run (<see cref="ModelCurvature"/>). Each recompute step rebuilds the
/// estimate from G restricted to the surviving weights (<see cref="GradientCurvature"/>, <see cref="MaskedGradientSource"/>);
/// with <see cref="Damping.Auto"/> λ is chosen from the rows alone (a held-out quadratic).
/// </summary>
public static class TensorPruning
{
    /// <summary>
    /// Builds one estimate <paramref name="options"/>' method prunes with at the spec's fixed λ
    /// (<see cref="EstimatorSpec.UnjudgedDamping"/> when it is automatic), from every row of <paramref name="gradients"/>:
    /// identity for magnitude, otherwise the method's own <see cref="PruningMethod.FromGradients"/> (with the mean
    /// gradient for methods that use it, i.e. WoodTaylor). Blocks restart at the segments of <paramref name="options"/>,
    /// else at those of the source.
    /// </summary>
    /// <param name="gradients">Rows of G (m × d); null only for magnitude pruning.</param>
    /// <param name="dimension">d.</param>
    /// <param name="options">The pruner's options (method, segments).</param>
    /// <param name="estimator">λ, block size, normalizer, strategy, backend, precision (its method is replaced by the
    /// options' method); null = the defaults.</param>
    /// <exception cref="ArgumentException">G's width is not d, G is empty, or the method needs a model.</exception>
    public static CurvatureEstimate Estimate(IGradientSource? gradients, int dimension, PrunerOptions options, EstimatorSpec? estimator = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        CheckInputs(dimension, gradients, options, estimator);
        var method = options.Method;
        if (gradients is null || !method.UsesCurvature)
        {
            return new CurvatureEstimate(new IdentityCurvature(dimension));
        }

        var spec = (estimator ?? new EstimatorSpec()) with { Method = method };
        var source = WithSegments(gradients, options.Segments);
        var clock = Stopwatch.StartNew();
        var mean = method.UsesLossGradient ? GradientStatistics.Compute(source).Mean : null;
        var gradientSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var inverse = method.FromGradients(source, spec);
        return new CurvatureEstimate(inverse)
        {
            Gradient = mean,
            GradientSeconds = gradientSeconds,
            InverseSeconds = clock.Elapsed.TotalSeconds,
        };
    }

    /// <summary>Bytes per weight a prune holds beside the inverse: w, the mask, scores, the diagonal, results and outputs.</summary>
    public const long VectorBytesPerWeight = 64;

    /// <summary>Refuses a run beyond <see cref="MemoryBudget"/> before the inverse is built: its bytes plus <see cref="VectorBytesPerWeight"/> per weight.</summary>
    private static void RequireMemory(int dimension, long inverseBytes) =>
        MemoryBudget.Require(MemoryBudget.Sum(inverseBytes, MemoryBudget.Product(dimension, VectorBytesPerWeight)), $"prune: d = {dimension:N0} weights and their inverse curvature",
            "Use a smaller block size (--block), float32 (--precision), or fewer weights.");

    /// <summary>
    /// How the WoodFisher or WoodTaylor inverse of this prune fits <see cref="MemoryBudget"/>: in memory or in two passes
    /// over groups of blocks, with its working set in bytes (<see cref="PassPlan.Describe"/>); null for the other methods,
    /// or when <paramref name="gradients"/> does not know its row count.
    /// </summary>
    /// <exception cref="InsufficientMemoryException">Even two passes over groups of blocks do not fit; the message gives the numbers.</exception>
    public static PassPlan? Plan(IGradientSource? gradients, PrunerOptions options, EstimatorSpec? estimator = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (gradients is null || options.Method is not WoodFisherMethod)
        {
            return null;
        }

        var spec = (estimator ?? new EstimatorSpec()) with { Method = options.Method };
        return WoodFisherMethod.Plan(WithSegments(gradients, options.Segments), spec);
    }

    /// <summary>
    /// Prunes w with <see cref="Pruner"/> (scores, selection, weight update) in K = <see cref="PrunerOptions.RecomputeSteps"/>
    /// steps, each from an estimate rebuilt from the rows of G restricted to the weights still kept (their columns of the
    /// pruned coordinates zeroed, so F̂ is λ·I there: <see cref="GradientCurvature"/>). G is read once per step (and held
    /// in memory when λ is automatic); the rows stay those at the given weights.
    /// </summary>
    /// <param name="weights">w (length d).</param>
    /// <param name="gradients">Rows of G (m × d); null only for magnitude pruning.</param>
    /// <param name="options">The pruner's options.</param>
    /// <param name="estimator">λ (fixed or automatic), block size and the other estimator settings; null = the defaults.</param>
    /// <param name="mask">Current mask (length d, true = kept) or empty for all kept; pruned weights stay pruned.</param>
    /// <param name="progress">Receives the damping search's lines (each λ's criterion, the choice).</param>
    /// <exception cref="ArgumentException">See <see cref="CheckInputs"/>.</exception>
    public static PruningResult Prune(ReadOnlySpan<double> weights, IGradientSource? gradients, PrunerOptions options, EstimatorSpec? estimator = null, ReadOnlySpan<bool> mask = default, IProgress<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var pruner = new Pruner(options);
        if (weights.Length < 1)
        {
            throw new ArgumentException("There are no weights to prune.", nameof(weights));
        }

        if (!mask.IsEmpty && mask.Length != weights.Length)
        {
            throw new ArgumentException($"Mask has length {mask.Length}, but the weights have d = {weights.Length}.", nameof(mask));
        }

        MaskSelection.CheckSegments(options.Segments, weights.Length, options.PrunableSegments);
        CheckInputs(weights.Length, gradients, options, estimator);
        var method = options.Method;
        if (gradients is null || !method.UsesCurvature)
        {
            return pruner.Prune(weights, (CurvatureFactory?)null, mask, progress);
        }

        var spec = (estimator ?? new EstimatorSpec()) with { Method = method };
        var curvature = new GradientCurvature(WithSegments(gradients, options.Segments), spec);
        return pruner.Prune(weights, curvature.Factory(), mask, progress);
    }

    /// <summary>
    /// Checks, before any work, what <see cref="Prune"/> needs: a method that runs from gradients alone, gradient rows
    /// unless magnitude pruning, G of width d and at least one row (enough to hold some out when λ is automatic), and the
    /// run's memory within <see cref="MemoryBudget"/> (the inverse <paramref name="estimator"/> describes, G itself when λ
    /// is automatic, plus ~64 B per weight). The messages name the mismatch.
    /// </summary>
    /// <exception cref="ArgumentException">One of these does not hold.</exception>
    /// <exception cref="InsufficientMemoryException">The run would not fit the memory budget.</exception>
    public static void CheckInputs(int dimension, IGradientSource? gradients, PrunerOptions options, EstimatorSpec? estimator = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        var method = options.Method;
        if (method.NeedsModel)
        {
            throw new ArgumentException($"Method {method.Name} needs a model to run ({method.Summary}); from gradients alone use {string.Join(", ", PruningMethod.All.Where(m => !m.NeedsModel).Select(m => m.Name))}.");
        }

        if (gradients is null && method.UsesCurvature)
        {
            throw new ArgumentException($"Method {method.Name} needs gradient rows; only magnitude pruning runs without them.");
        }

        if (gradients is not null && gradients.Dimension != dimension)
        {
            throw new ArgumentException($"The weights have d = {dimension} coordinates but G has {gradients.Dimension} columns.");
        }

        if (gradients is { Count: 0 })
        {
            throw new ArgumentException("G holds no gradient rows.");
        }

        var spec = estimator ?? new EstimatorSpec();
        var search = gradients is not null && method.UsesCurvature && spec.Damping.IsAuto;
        if (search && gradients!.Count < 2 * GradientCurvature.DefaultHeldOutEvery)
        {
            throw new ArgumentException($"Automatic damping holds out every {GradientCurvature.DefaultHeldOutEvery}th gradient row and needs at least {2 * GradientCurvature.DefaultHeldOutEvery} rows; G has {gradients.Count}. Give a fixed damping.");
        }

        // The damping search holds G in memory beside the inverse.
        var heldBytes = search ? GradientMatrix.BytesFor(gradients!.Count, dimension) : 0;
        if (Plan(gradients, options, estimator) is { } plan)
        {
            if (heldBytes > 0)
            {
                MemoryBudget.Require(MemoryBudget.Sum(plan.TotalBytes, heldBytes), $"prune: d = {dimension:N0} weights, their inverse curvature ({(plan.TwoPass ? "two passes" : "in memory")}) and G held for the damping search",
                    "Give a fixed --damping (the search holds G in memory), a smaller block size (--block), or a larger --memory.");
            }

            return;
        }

        var inverseBytes = gradients is null || !method.UsesCurvature ? 0
            : spec.BlockSize == EstimatorSpec.FullBlockSize && method is WoodFisherMethod ? FullWoodFisherInverse.EstimateBytes(dimension, (gradients.Count + spec.MiniBatch - 1) / spec.MiniBatch)
            : method == PruningMethod.DiagonalFisher ? MemoryBudget.Product(dimension, 2 * sizeof(double))
            : WoodFisherBuilder.EstimateBytes(dimension, WoodFisherMethod.Options(spec, dimension, options.Segments ?? gradients.Segments), gradients.Count);
        RequireMemory(dimension, MemoryBudget.Sum(inverseBytes, heldBytes));
    }

    /// <summary>The source with its segments replaced by <paramref name="segments"/> (blocks restart there), when given.</summary>
    private static IGradientSource WithSegments(IGradientSource source, IReadOnlyList<int>? segments) =>
        segments is null || segments.SequenceEqual(source.Segments) ? source : WithSegmentsCore(source, segments);

    private static IGradientSource WithSegmentsCore(IGradientSource source, IReadOnlyList<int> segments) =>
        source is IColumnGradientSource columns ? new SegmentedColumnSource(columns, segments) : new SegmentedSource(source, segments);

    private sealed class SegmentedColumnSource(IColumnGradientSource inner, IReadOnlyList<int> segments) : SegmentedSource(inner, segments), IColumnGradientSource
    {
        public void ReadColumns(long firstRow, int rows, int firstColumn, int columns, Span<float> destination) =>
            inner.ReadColumns(firstRow, rows, firstColumn, columns, destination);
    }

    private class SegmentedSource(IGradientSource inner, IReadOnlyList<int> segments) : IGradientSource
    {
        public int Dimension => inner.Dimension;

        public long Count => inner.Count;

        public IReadOnlyList<int> Segments => segments;

        public int Read(Span<float> buffer, int maxRows) => inner.Read(buffer, maxRows);

        public void Reset() => inner.Reset();
    }
}
