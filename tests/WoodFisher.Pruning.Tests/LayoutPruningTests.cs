using WoodFisher.IO;
using WoodFisher.Kernels;

namespace WoodFisher.Pruning.Tests;

/// <summary>
/// Any-architecture pruning: a CNN-shaped state dict (conv and linear weights, biases, BatchNorm buffers, an int64
/// counter) pruned through a gradient layout must equal tensor mode on the gathered vector, solve the OBS constrained
/// quadratic inside each tensor, and leave every other tensor bit-exact.
/// </summary>
public class LayoutPruningTests
{
    private const int Rows = 48;

    /// <summary>Tensors in file order; the layout lists the prunable ones in another order, on purpose.</summary>
    private static SafeTensorsFile Model(int seed = 1)
    {
        var rng = new Random(seed);
        float[] F(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2) - 1))];
        return new SafeTensorsFile(
        [
            new("conv1.weight", NdArray.Create(F(36), 4, 1, 3, 3)),
            new("conv1.bias", NdArray.Create(F(4), 4)),
            new("bn1.weight", NdArray.Create(F(4), 4)),
            new("bn1.bias", NdArray.Create(F(4), 4)),
            new("bn1.running_mean", NdArray.Create(F(4), 4)),
            new("bn1.running_var", NdArray.Create(F(4).Select(Math.Abs).ToArray(), 4)),
            new("bn1.num_batches_tracked", NdArray.Scalar(123456789012L)),
            new("conv2.weight", NdArray.Create(F(48), 3, 4, 2, 2)),
            new("fc.weight", NdArray.Create(F(30).Select(v => (double)v).ToArray(), 10, 3)),
            new("fc.bias", NdArray.Create(F(10).Select(v => (Half)v).ToArray(), 10)),
        ], new Dictionary<string, string> { ["format"] = "pt", ["source"] = "test" });
    }

    private static GradientLayout Layout() => new(
    [
        new("fc.weight", [10, 3], 0, 30),
        new("conv1.weight", [4, 1, 3, 3], 30, 36),
        new("conv2.weight", [3, 4, 2, 2], 66, 48),
    ], rows: Rows, minibatch: 1);

    private static float[] Gradients(int d, int seed = 2)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, Rows * d).Select(_ => (float)(rng.NextDouble() - 0.5))];
    }

    [TestCase("woodfisher", UpdateMode.Joint)]
    [TestCase("woodfisher", UpdateMode.Independent)]
    [TestCase("woodtaylor", UpdateMode.Joint)]
    [TestCase("diagfisher", UpdateMode.Joint)]
    [TestCase("magnitude", UpdateMode.None)]
    public void Prune_EqualsTensorModeOnTheGatheredVector_AndCopiesEveryOtherTensor(string name, UpdateMode update)
    {
        var method = PruningMethod.Find(name);
        var model = Model();
        var layout = Layout();
        var g = Gradients(layout.Dimension);
        var options = new PrunerOptions { Method = method, Update = update, Sparsity = 0.6 };
        var curvature = new WoodFisherOptions { BlockSize = 16, Damping = 1e-3 };
        var result = LayoutPruning.Prune(model, layout, new ArrayGradientSource(g, layout.Dimension), options, new EstimatorSpec { BlockSize = 16, Damping = 1e-3 });

        // Tensor mode by hand: weights in layout order, segments = the tensors, the estimate built from the same rows.
        double[] w = [.. model["fc.weight"].ToFloat64(), .. model["conv1.weight"].ToFloat64(), .. model["conv2.weight"].ToFloat64()];
        var source = new ArrayGradientSource(g, layout.Dimension, [30, 36, 48]);
        IInverseCurvature inverse = name switch
        {
            "magnitude" => new IdentityCurvature(w.Length),
            "diagfisher" => DiagonalFisherCurvature.FromGradients(source, 1e-3),
            _ => WoodFisherCurvature.FromGradients(source, curvature with { Segments = [30, 36, 48] }),
        };
        var mean = method == PruningMethod.WoodTaylor ? GradientStatistics.Compute(source).Mean : null;
        var expected = new Pruner(options with { Segments = [30, 36, 48] }).Prune(w, inverse, mean);
        (inverse as IDisposable)?.Dispose();

        Assert.That(result.Result.Mask, Is.EqualTo(expected.Mask));
        Assert.That(result.Result.Weights, Is.EqualTo(expected.Weights));
        var pruned = result.Model;
        Assert.Multiple(() =>
        {
            Assert.That(pruned["fc.weight"].GetData<double>(), Is.EqualTo(expected.Weights[..30]), "an F64 tensor keeps float64 values");
            Assert.That(pruned["conv1.weight"].GetData<float>(), Is.EqualTo(expected.Weights[30..66].Select(v => (float)v)), "F32 tensors are rounded to float32");
            Assert.That(pruned["conv2.weight"].Shape, Is.EqualTo(new long[] { 3, 4, 2, 2 }));
            Assert.That(pruned.Tensors.Select(t => t.Name), Is.EqualTo(model.Tensors.Select(t => t.Name)), "file order is kept");
            foreach (var t in model.Tensors.Where(t => layout.Find(t.Name) is null))
            {
                Assert.That(pruned[t.Name].DType, Is.EqualTo(t.Array.DType), t.Name);
                Assert.That(pruned[t.Name].AsBytes().ToArray(), Is.EqualTo(t.Array.AsBytes().ToArray()), $"{t.Name} is copied bit-exact");
            }

            Assert.That(pruned.Metadata["format"], Is.EqualTo("pt"));
            Assert.That(pruned.Metadata["source"], Is.EqualTo("test"));
            Assert.That(pruned.Metadata[LayoutPruning.MetadataKey], Does.StartWith(name));
            Assert.That(result.Result.Mask.Count(k => !k), Is.EqualTo(MaskSelection.TargetCount(0.6, 114)));
            Assert.That(result.Report.Layers.Select(l => l.Name), Is.EqualTo(new[] { "fc.weight", "conv1.weight", "conv2.weight" }));
            Assert.That(result.Report.Layers.Select(l => l.Sparsity), Is.EqualTo(expected.SegmentSparsity));
        });
    }

    /// <summary>
    /// Oracle: with one block per tensor, the joint OBS update is the minimiser of ½δᵀFδ subject to w_Q + δ_Q = 0 in each
    /// tensor, F = λI + GᵀG/N over that tensor's columns: w_R ← w_R + F_RR⁻¹F_RQ w_Q (Gauss–Jordan in float64).
    /// Float64 blocks, so agreement to 1e-9 relative (κ(F) ≤ 1e4 here).
    /// </summary>
    [Test]
    public void Prune_JointUpdate_SolvesTheConstrainedQuadraticInsideEachTensor()
    {
        var model = Model(5);
        var layout = Layout();
        var g = Gradients(layout.Dimension, 6);
        var options = new PrunerOptions { Method = PruningMethod.WoodFisher, Update = UpdateMode.Joint, Sparsity = 0.5 };
        var curvature = new EstimatorSpec { BlockSize = 64, Damping = 1e-2, Precision = Precision.Float64 };
        var result = LayoutPruning.Prune(model, layout, new ArrayGradientSource(g, layout.Dimension), options, curvature);
        var w0 = LayoutPruning.Gather(model, layout);
        var d = layout.Dimension;
        foreach (var t in layout.Tensors)
        {
            var n = t.Length;
            var f = new double[n * n];
            for (var i = 0; i < n; i++)
            {
                for (var j = 0; j < n; j++)
                {
                    double s = 0;
                    for (var r = 0; r < Rows; r++)
                    {
                        s += (double)g[(r * d) + t.Offset + i] * g[(r * d) + t.Offset + j];
                    }

                    f[(i * n) + j] = (s / Rows) + (i == j ? 1e-2 : 0);
                }
            }

            var q = Enumerable.Range(0, n).Where(i => !result.Result.Mask[t.Offset + i]).ToArray();
            var keep = Enumerable.Range(0, n).Where(i => result.Result.Mask[t.Offset + i]).ToArray();
            var frr = new double[keep.Length * keep.Length];
            var rhs = new double[keep.Length];
            for (var a = 0; a < keep.Length; a++)
            {
                for (var b = 0; b < keep.Length; b++)
                {
                    frr[(a * keep.Length) + b] = f[(keep[a] * n) + keep[b]];
                }

                rhs[a] = q.Sum(j => f[(keep[a] * n) + j] * w0[t.Offset + j]);
            }

            var step = Oracle.Solve(frr, keep.Length, rhs);
            var expected = new double[n];
            for (var a = 0; a < keep.Length; a++)
            {
                expected[keep[a]] = w0[t.Offset + keep[a]] + step[a];
            }

            var got = result.Result.Weights.AsSpan(t.Offset, n).ToArray();
            var scale = expected.Max(Math.Abs);
            Assert.That(Oracle.MaxAbsDiff(got, expected), Is.LessThan(1e-9 * scale), t.Name);
        }
    }

    [Test]
    public void Prune_PrunableFlags_KeepATensorDense_WhileItsColumnsStillEnterTheInverse()
    {
        var model = Model();
        var layout = Layout();
        var options = new PrunerOptions { Sparsity = 0.5, PrunableSegments = [true, false, true] };
        var result = LayoutPruning.Prune(model, layout, new ArrayGradientSource(Gradients(layout.Dimension), layout.Dimension), options, new EstimatorSpec { BlockSize = 16, Damping = 1e-3 });
        Assert.That(result.Result.Mask.AsSpan(30, 36).ToArray(), Is.All.True);
        Assert.That(result.Report.Layers[1].Prunable, Is.False);
        Assert.That(result.Result.Mask.Count(k => !k), Is.EqualTo(MaskSelection.TargetCount(0.5, 30 + 48)));
    }

    [Test]
    public void Prune_Float16Tensor_IsWrittenBackAsHalf()
    {
        var model = new SafeTensorsFile([new("w", NdArray.Create(new Half[] { (Half)0.5, (Half)(-2), (Half)0.25, (Half)1 }, 2, 2))]);
        var layout = new GradientLayout([new("w", [2, 2], 0, 4)]);
        var result = LayoutPruning.Prune(model, layout, null, new PrunerOptions { Method = PruningMethod.Magnitude, Update = UpdateMode.None, Sparsity = 0.5 });
        Assert.That(result.Model["w"].DType, Is.EqualTo(DType.Float16));
        Assert.That(result.Model["w"].GetData<Half>(), Is.EqualTo(new Half[] { (Half)0, (Half)(-2), (Half)0, (Half)1 }));
    }

    [Test]
    public void Split_GivesOneTensorPerLayoutEntry_WithItsShape()
    {
        var layout = Layout();
        var mask = Enumerable.Range(0, layout.Dimension).Select(i => i % 3 != 0).ToArray();
        var parts = LayoutPruning.Split<bool>(layout, mask);
        Assert.That(parts.Select(p => p.Name), Is.EqualTo(layout.Names));
        Assert.That(parts[1].Array.Shape, Is.EqualTo(new long[] { 4, 1, 3, 3 }));
        Assert.That(parts[1].Array.GetData<bool>(), Is.EqualTo(mask[30..66]));
    }

    private static IEnumerable<TestCaseData> Mismatches()
    {
        static TestCaseData Case(string name, Func<SafeTensorsFile, SafeTensorsFile> edit, string mention) =>
            new TestCaseData(edit, mention).SetName("Check_" + name + "_IsRefusedBeforeWork");
        SafeTensorsFile Replace(SafeTensorsFile m, string name, NdArray array) =>
            new([.. m.Tensors.Select(t => t.Name == name ? new NamedArray(name, array) : t)], m.Metadata);
        yield return Case("MissingTensor", m => new SafeTensorsFile([.. m.Tensors.Where(t => t.Name != "conv2.weight")]), "has no tensor of that name");
        yield return Case("ShapeDiffers", m => Replace(m, "conv2.weight", NdArray.Zeros(DType.Float32, 3, 4, 4)), "shape [3, 4, 4] in the model but [3, 4, 2, 2] in the layout");
        yield return Case("IntegerTensor", m => Replace(m, "fc.weight", NdArray.Zeros(DType.Int64, 10, 3)), "Int64");
        yield return Case("BFloat16Elsewhere", m => new SafeTensorsFile([.. m.Tensors, new("extra", NdArray.Zeros(DType.BFloat16, 2))]), "BF16");
    }

    [TestCaseSource(nameof(Mismatches))]
    public void Check_ModelDisagreesWithLayout_NamesTheTensor(Func<SafeTensorsFile, SafeTensorsFile> edit, string mention)
    {
        var layout = Layout();
        var model = edit(Model());
        Assert.That(() => LayoutPruning.Prune(model, layout, new ArrayGradientSource(Gradients(layout.Dimension), layout.Dimension), new PrunerOptions()),
            Throws.ArgumentException.With.Message.Contains(mention));
    }

    [Test]
    public void Recompute_EqualsTensorModeRecompute_WhichRebuildsFromTheSurvivors()
    {
        // Tensor-mode recompute is checked against a dense oracle of the survivors' Fisher (SurvivorFisherTests); layout
        // mode must be exactly it on the gathered vector, with every step past the first seeing a mask.
        var model = Model();
        var layout = Layout();
        var g = Gradients(layout.Dimension);
        var options = new PrunerOptions { Sparsity = 0.7, RecomputeSteps = 3 };
        var spec = new EstimatorSpec { BlockSize = 16, Damping = 1e-3 };
        var result = LayoutPruning.Prune(model, layout, new ArrayGradientSource(g, layout.Dimension), options, spec);
        double[] w = [.. model["fc.weight"].ToFloat64(), .. model["conv1.weight"].ToFloat64(), .. model["conv2.weight"].ToFloat64()];
        var expected = TensorPruning.Prune(w, new ArrayGradientSource(g, layout.Dimension), options with { Segments = [30, 36, 48] }, spec);
        Assert.Multiple(() =>
        {
            Assert.That(result.Result.Steps, Has.Count.EqualTo(3));
            Assert.That(result.Result.Mask, Is.EqualTo(expected.Mask));
            Assert.That(result.Result.Weights, Is.EqualTo(expected.Weights));
            Assert.That(result.Result.Sparsity, Is.EqualTo(0.7).Within(0.01));
        });
    }

    [Test]
    public void Prune_GradientsOrOptionsDisagree_AreRefused()
    {
        var model = Model();
        var layout = Layout();
        var d = layout.Dimension;
        var g = new ArrayGradientSource(Gradients(d), d);
        Assert.Multiple(() =>
        {
            Assert.That(() => LayoutPruning.Prune(model, layout, new ArrayGradientSource(new float[Rows * (d + 1)], d + 1), new PrunerOptions()),
                Throws.ArgumentException.With.Message.Contains($"{d + 1} columns"));
            Assert.That(() => LayoutPruning.Prune(model, layout, new ArrayGradientSource(new float[(Rows - 1) * d], d), new PrunerOptions()),
                Throws.ArgumentException.With.Message.Contains($"rows = {Rows}"));
            Assert.That(() => LayoutPruning.Prune(model, layout, g, new PrunerOptions { Method = PruningMethod.Kfac }),
                Throws.ArgumentException.With.Message.Contains("needs a model"));
            Assert.That(() => LayoutPruning.Prune(model, layout, g, new PrunerOptions { Segments = [d] }),
                Throws.ArgumentException.With.Message.Contains("the layout sets the segments"));
            Assert.That(() => LayoutPruning.Prune(model, layout, null, new PrunerOptions()),
                Throws.ArgumentException.With.Message.Contains("needs gradient rows"));
        });
    }
}
