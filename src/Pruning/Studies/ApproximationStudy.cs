using System.Diagnostics;
using WoodFisher.Kernels;
using WoodFisher.Models;
using WoodFisher.Models.Data;

namespace WoodFisher.Pruning.Studies;

/// <summary>
/// Approximation-quality study of inverse-curvature estimators on a (small) trained model, against the exact damped
/// Hessian inverse over a chosen set of parameters:
/// <list type="number">
/// <item>matrix fidelity: relative Frobenius error of each Ĥ⁻¹ against (treat(H) + λI)⁻¹, full, within the WoodFisher
/// blocks and per block; empirical Fisher, true Fisher, Gauss–Newton and Hessian against each other;</item>
/// <item>loss-change prediction: OBS prediction ρ_q against the measured loss change of each estimator's single-weight
/// OBS update on the same samples (Pearson and Spearman correlations);</item>
/// <item>one-shot pruning curves: test accuracy against sparsity, joint and independent updates, estimates built once
/// at the dense weights;</item>
/// <item>cost: build seconds and bytes of each estimator.</item>
/// </list>
/// </summary>
public static class ApproximationStudy
{
    /// <summary>Dense d × d float64 matrices the study holds at its peak (H, its eigen-decomposition, the reference, an estimate, the Fishers).</summary>
    public const int DenseMatricesHeld = 8;

    /// <summary>Bytes the study needs for d coordinates: <see cref="DenseMatricesHeld"/> · d² · 8.</summary>
    public static long RequiredBytes(int dimension) => (long)DenseMatricesHeld * dimension * dimension * sizeof(double);

    /// <summary>
    /// Throws unless the exact Hessian over d coordinates is affordable: d ≤ <paramref name="maxDimension"/> and
    /// <see cref="RequiredBytes"/> within half the memory available to the process.
    /// </summary>
    /// <exception cref="InsufficientMemoryException">With d, the bytes needed and what to do.</exception>
    public static void EnsureExactFits(int dimension, int maxDimension)
    {
        var need = RequiredBytes(dimension);
        var avail = MemoryBudget.Limit;
        if (dimension > maxDimension || need > avail / 2)
        {
            throw new InsufficientMemoryException(
                $"The exact Hessian over d = {dimension:N0} coordinates needs {need:N0} bytes ({DenseMatricesHeld} dense {dimension}×{dimension} float64 matrices; about {avail:N0} available), " +
                $"{dimension:N0} Hessian-vector passes and a {dimension}×{dimension} eigendecomposition; the limit is d ≤ {maxDimension:N0}. Study fewer layers.");
        }
    }

    /// <summary>Runs the study. The model's weights are restored before returning.</summary>
    /// <param name="model">A trained model (float32).</param>
    /// <param name="selection">The studied parameters (weights of the chosen layers).</param>
    /// <param name="train">Data the curvature and loss changes use (the first <see cref="StudyOptions.Samples"/> after a seeded shuffle).</param>
    /// <param name="test">Data the pruning curves are evaluated on.</param>
    /// <param name="options">Settings.</param>
    /// <param name="progress">Phase progress, reported synchronously on the calling thread.</param>
    /// <exception cref="InsufficientMemoryException">The exact Hessian would not fit (see <see cref="EnsureExactFits"/>).</exception>
    public static StudyResult Run(IModel<float> model, ParameterSelection<float> selection, Dataset train, Dataset test, StudyOptions options, IProgress<StudyProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(selection);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(options);
        Validate(options, train.Count);
        var estimatorSpecs = options.EffectiveEstimators;
        var d = selection.Dimension;
        EnsureExactFits(d, options.MaxExactDimension);

        var mc = new ModelCurvature(model, selection, train.Images, train.Labels);
        var w0 = mc.GetWeights();
        var (x, y) = mc.Subset(options.Samples, options.Seed);
        var n = y.Length;
        var estimators = new List<(EstimatorSpec Spec, IInverseCurvature Inverse)>();
        try
        {
            // 1. The exact Hessian, column by column (d HVP passes over the samples).
            var sw = Stopwatch.StartNew();
            var h = ExactHessian(model, selection, x, y, n, progress);
            var hessianSeconds = sw.Elapsed.TotalSeconds;
            var exactCache = new Dictionary<(double, IndefiniteTreatment), (DenseCurvature Inverse, double Seconds)>();
            (DenseCurvature Inverse, double Seconds) Exact(double damping, IndefiniteTreatment treatment)
            {
                if (!exactCache.TryGetValue((damping, treatment), out var e))
                {
                    var t = Stopwatch.StartNew();
                    e = (new DenseCurvature(h, d, damping, treatment), t.Elapsed.TotalSeconds);
                    exactCache[(damping, treatment)] = e;
                }

                return e;
            }

            // The reference inverse first, as its own phase: its d × d eigendecomposition is the study's longest step.
            Report(progress, "exact inverse (eigendecomposition)", 0, 1);
            var reference = Exact(options.Damping, options.Treatment).Inverse;
            Report(progress, "exact inverse (eigendecomposition)", 1, 1);

            // 2. The estimators, each built once at the dense weights.
            var costs = new List<EstimatorCost>();
            Report(progress, "estimators", 0, estimatorSpecs.Count);
            foreach (var spec in estimatorSpecs)
            {
                if (spec.Method == PruningMethod.Exact)
                {
                    var (inv, seconds) = Exact(spec.DampingValue, spec.Treatment);
                    estimators.Add((spec, inv));
                    costs.Add(new EstimatorCost(spec.Label, inv.Name, hessianSeconds, seconds, inv.Bytes));
                }
                else
                {
                    var est = mc.Build(spec);
                    estimators.Add((spec, est.Inverse));
                    costs.Add(new EstimatorCost(spec.Label, est.Inverse.Name, est.GradientSeconds, est.InverseSeconds, est.Inverse.Bytes));
                }

                Report(progress, "estimators", estimators.Count, estimatorSpecs.Count);
            }

            mc.SetWeights(w0);

            // 3. Fidelity of the inverses, and the curvature matrices themselves.
            var exactInverse = StudyMatrices.ToDense(reference);
            var c = options.BlockSize ?? estimatorSpecs.Where(s => s.Method == PruningMethod.WoodFisher).Select(s => s.BlockSizeFor(d)).DefaultIfEmpty(EstimatorSpec.DefaultBlockSize).Min();
            var layout = BlockLayout.Create(d, c, selection.Segments);
            var snapshotBlocks = HeatmapBlocks(layout, options.HeatmapBlocks);
            var fidelity = new List<FidelityRow>();
            var snapshots = snapshotBlocks.Select(b => (Block: b, Size: Math.Min(options.HeatmapSize, layout.Size(b)), Estimates: new List<KeyValuePair<string, double[]>>())).ToList();
            var fidelitySteps = estimators.Count + 4;
            Report(progress, "fidelity", 0, fidelitySteps);
            foreach (var (spec, inverse) in estimators)
            {
                var dense = StudyMatrices.ToDense(inverse);
                fidelity.Add(FidelityStudy.Compare(spec.Label, dense, exactInverse, layout));
                foreach (var s in snapshots)
                {
                    s.Estimates.Add(new(spec.Label, StudyMatrices.DiagonalBlock(dense, d, layout.Offset(s.Block), s.Size)));
                }

                Report(progress, "fidelity", fidelity.Count, fidelitySteps);
            }

            var heatmaps = snapshots.Select(s => new BlockSnapshot(s.Block, layout.Offset(s.Block), s.Size, LayerName(selection, layout.Offset(s.Block)),
                StudyMatrices.DiagonalBlock(exactInverse, d, layout.Offset(s.Block), s.Size), s.Estimates)).ToList();
            exactInverse = [];
            var fidelityDone = fidelity.Count;
            var matrices = CompareMatrices(model, selection, x, y, n, h, options.Seed, () => Report(progress, "fidelity", ++fidelityDone, fidelitySteps));
            mc.SetWeights(w0);

            // 4. Loss-change prediction on the same samples, measured in float64.
            var loss = new ModelLoss(model, selection, x, y);
            var baseline = loss.Loss(w0);
            var gradient = loss.Gradient(w0);
            var indices = LossChangeStudy.SampleIndices(w0, options.WeightsSampled, options.Seed);
            var lossSteps = (long)indices.Length * estimators.Count;
            long lossDone = 0;
            Report(progress, "loss change", 0, lossSteps);
            var lossChanges = estimators.Select(e => LossChangeStudy.Run(e.Spec.Label, e.Inverse, w0, indices, loss, gradient, baseline,
                () => Report(progress, "loss change", ++lossDone, lossSteps))).ToList();

            // 5. One-shot pruning curves on the test data.
            var testCount = Math.Min(options.TestSamples ?? test.Count, test.Count);
            (double Loss, double Accuracy) Evaluate(double[] w)
            {
                mc.SetWeights(w);
                var r = Evaluation.Evaluate(model, test.Images, test.Labels, testCount);
                return (r.Loss, r.Accuracy);
            }

            var dense0 = Evaluate(w0);
            var curveSteps = (long)estimators.Count * options.Updates.Count * options.Sparsities.Count;
            long curveDone = 0;
            Report(progress, "pruning curves", 0, curveSteps);
            var curves = new List<PruningCurvePoint>();
            foreach (var (spec, inverse) in estimators)
            {
                curves.AddRange(PruningCurveStudy.Run(spec.Label, spec.Method, inverse, w0, selection.Segments, options.Sparsities, options.Updates, Evaluate,
                    () => Report(progress, "pruning curves", ++curveDone, curveSteps)));
            }

            return new StudyResult
            {
                ModelSpec = model.Spec,
                Layers = selection.Entries,
                Dimension = d,
                Options = options,
                Spectrum = reference.Spectrum,
                HessianSeconds = hessianSeconds,
                ReferenceLayout = layout,
                Fidelity = fidelity,
                Matrices = matrices,
                Heatmaps = heatmaps,
                BaselineLoss = baseline,
                LossChanges = lossChanges,
                DenseTest = dense0,
                TestCount = testCount,
                Curves = curves,
                Costs = costs,
            };
        }
        finally
        {
            mc.SetWeights(w0);
            foreach (var (_, inverse) in estimators)
            {
                (inverse as IDisposable)?.Dispose();
            }
        }
    }

    /// <summary>
    /// The exact Hessian of the mean loss over the selection (d × d, row-major, symmetrised), one Hessian-vector product
    /// per column, reporting progress as phase "exact Hessian".
    /// </summary>
    public static double[] ExactHessian(IModel<float> model, ParameterSelection<float> selection, float[] x, int[] labels, int count, IProgress<StudyProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(selection);
        var d = selection.Dimension;
        LossHessian.EnsureDenseFits(d);
        Report(progress, "exact Hessian", 0, d);
        var h = LossHessian.Dense(model, x, labels, count, selection, columnsDone: new InlineProgress<int>(j => Report(progress, "exact Hessian", j, d)));
        LinearAlgebra.Symmetrize(h, d);
        return h;
    }

    private static List<MatrixComparison> CompareMatrices(IModel<float> model, ParameterSelection<float> selection, float[] x, int[] y, int n, double[] hessian, int seed, Action step)
    {
        var empirical = FisherMatrices.EmpiricalFisher(model, x, y, n, selection);
        step();
        var trueFisher = FisherMatrices.TrueFisher(model, x, n, selection, seed);
        step();
        var gaussNewton = FisherMatrices.GaussNewton(model, x, n, selection);
        step();
        MatrixComparison Compare(string a, double[] ma, string b, double[] mb) =>
            new(a, b, StudyMetrics.RelativeFrobenius(ma, mb), StudyMetrics.Cosine(ma, mb), StudyMetrics.Frobenius(ma) / StudyMetrics.Frobenius(mb));
        var r = new List<MatrixComparison>
        {
            Compare("empirical Fisher", empirical, "true Fisher (1 draw)", trueFisher),
            Compare("empirical Fisher", empirical, "Gauss–Newton (exact Fisher)", gaussNewton),
            Compare("empirical Fisher", empirical, "Hessian", hessian),
            Compare("true Fisher (1 draw)", trueFisher, "Hessian", hessian),
            Compare("Gauss–Newton (exact Fisher)", gaussNewton, "Hessian", hessian),
        };
        step();
        return r;
    }

    private static List<int> HeatmapBlocks(BlockLayout layout, int count)
    {
        var blocks = new List<int>();
        var start = 0;
        foreach (var segment in layout.Segments)
        {
            if (blocks.Count >= count)
            {
                break;
            }

            blocks.Add(layout.Locate(start).Block);
            start += segment;
        }

        return blocks;
    }

    private static string LayerName(ParameterSelection<float> selection, int index) =>
        selection.Entries.First(e => index >= e.Offset && index < e.Offset + e.Length).Name;

    private static void Validate(StudyOptions o, int available)
    {
        if (o.EffectiveEstimators.Count == 0)
        {
            throw new ArgumentException("The study needs at least one estimator.", nameof(o));
        }

        if (o.Samples < 1 || o.Samples > available)
        {
            throw new ArgumentOutOfRangeException(nameof(o), o.Samples, $"Samples must be between 1 and the {available} training samples available.");
        }

        if (!(o.Damping > 0) || !double.IsFinite(o.Damping))
        {
            throw new ArgumentOutOfRangeException(nameof(o), o.Damping, "Damping λ must be positive and finite.");
        }

        foreach (var s in o.Sparsities)
        {
            MaskSelection.CheckSparsity(s, nameof(o.Sparsities));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(o.WeightsSampled);
        ArgumentOutOfRangeException.ThrowIfLessThan(o.HeatmapSize, 1);
        if (o.BlockSize is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(o), o.BlockSize, "Block size c must be at least 1.");
        }
    }

    private static void Report(IProgress<StudyProgress>? progress, string phase, long done, long total) =>
        progress?.Report(new StudyProgress(phase, done, total));

    /// <summary>An <see cref="IProgress{T}"/> that calls back synchronously (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
