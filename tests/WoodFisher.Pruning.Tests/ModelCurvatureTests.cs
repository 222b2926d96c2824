using WoodFisher.Kernels;
using WoodFisher.Models;

namespace WoodFisher.Pruning.Tests;

public class ModelCurvatureTests
{
    private static (float[] X, int[] Y) Data(int n, int features, int classes, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n * features];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (float)(rng.NextDouble() * 2 - 1);
        }

        var y = new int[n];
        for (var i = 0; i < n; i++)
        {
            y[i] = rng.Next(classes);
        }

        return (x, y);
    }

    [Test]
    public void EstimatorSpec_Parse_ReadsMethodAndKeys()
    {
        var s = EstimatorSpec.Parse("woodfisher:block=50,damping=1e-4,samples=200,minibatch=2,precision=float64,backend=cpu,name=wf50");
        Assert.Multiple(() =>
        {
            Assert.That(s.Method, Is.SameAs(PruningMethod.WoodFisher));
            Assert.That(s.BlockSize, Is.EqualTo(50));
            Assert.That(s.Damping.Value, Is.EqualTo(1e-4));
            Assert.That(s.Samples, Is.EqualTo(200));
            Assert.That(s.MiniBatch, Is.EqualTo(2));
            Assert.That(s.Precision, Is.EqualTo(Precision.Float64));
            Assert.That(s.Backend, Is.EqualTo(BackendKind.Cpu));
            Assert.That(s.Label, Is.EqualTo("wf50"));
            Assert.That(EstimatorSpec.Parse("kfac").Method, Is.SameAs(PruningMethod.Kfac));
            Assert.That(EstimatorSpec.Parse("exact:treatment=clip").Treatment, Is.EqualTo(IndefiniteTreatment.Clip));
            Assert.That(EstimatorSpec.Parse("woodfisher:block=200").Label, Is.EqualTo("woodfisher:block=200"));
            Assert.That(EstimatorSpec.Parse("identity").Method, Is.SameAs(PruningMethod.Magnitude), "an alias");
        });
        Assert.That(() => EstimatorSpec.Parse("bogus"), Throws.TypeOf<FormatException>().With.Message.Contains("bogus"));
        Assert.That(() => EstimatorSpec.Parse("woodfisher:block=x"), Throws.TypeOf<FormatException>().With.Message.Contains("\"x\" is not a positive integer"));
        Assert.That(() => EstimatorSpec.Parse("woodfisher:c=50"), Throws.TypeOf<FormatException>().With.Message.Contains("unknown key \"c\""));
        Assert.That(() => EstimatorSpec.Parse("woodfisher:blok=50"), Throws.TypeOf<FormatException>().With.Message.Contains("did you mean block"));
        Assert.That(() => EstimatorSpec.Parse("kfac:strategy=dense"), Throws.TypeOf<FormatException>().With.Message.Contains("kfac does not read \"strategy\""));
        Assert.That(() => EstimatorSpec.Parse("woodfisher:update=joint"), Throws.TypeOf<FormatException>().With.Message.Contains("does not read \"update\""),
            "a pruning key is not part of an estimate");
    }

    // One parser for both halves of a method: the estimate's keys and the pruner's, defaults from the verb's options.
    [Test]
    public void MethodSpec_Parse_SplitsEstimatorAndPrunerKeys_AndRefusesWhatAMethodDoesNotRead()
    {
        var defaults = new EstimatorSpec { BlockSize = 64 };
        var list = MethodSpec.ParseList("magnitude:selection=layerwise,woodfisher:update=independent,recompute=4,woodtaylor:taylor-step=0.25", defaults);
        Assert.Multiple(() =>
        {
            Assert.That(list.Select(m => m.Method), Is.EqualTo(new[] { PruningMethod.Magnitude, PruningMethod.WoodFisher, PruningMethod.WoodTaylor }));
            Assert.That(list[0].Pruning.Selection, Is.EqualTo(SelectionMode.LayerwiseUniform));
            Assert.That(list[0].Pruning.EffectiveUpdate, Is.EqualTo(UpdateMode.None), "magnitude moves no other weight");
            Assert.That(list[1].Pruning.Update, Is.EqualTo(UpdateMode.Independent));
            Assert.That(list[1].Pruning.RecomputeSteps, Is.EqualTo(4));
            Assert.That(list[1].Estimator.BlockSize, Is.EqualTo(64), "the default comes from the caller");
            Assert.That(list[2].Pruning.GradientStep, Is.EqualTo(0.25));
            Assert.That(list[2].Pruning.Method, Is.SameAs(PruningMethod.WoodTaylor));
        });
        Assert.That(() => MethodSpec.Parse("magnitude:update=joint"), Throws.TypeOf<FormatException>().With.Message.Contains("its update is none"));
        Assert.That(() => MethodSpec.Parse("woodfisher:taylor-step=0.5"), Throws.TypeOf<FormatException>().With.Message.Contains("does not read \"taylor-step\""));
        Assert.That(() => MethodSpec.Parse("woodfisher:update=sideways"), Throws.TypeOf<FormatException>().With.Message.Contains("\"sideways\" is not one of none, independent, joint"));
        Assert.That(() => MethodSpec.ParseList(""), Throws.TypeOf<FormatException>());
    }

    // Every method of the registry is reachable by its name, and its keys are keys the parser knows.
    [Test]
    public void Registry_NamesAreUnique_AndEveryMethodsKeysAreKnown()
    {
        var names = PruningMethod.All.SelectMany(m => m.Aliases.Prepend(m.Name)).ToList();
        Assert.That(names, Is.Unique);
        Assert.That(PruningMethod.All.Select(m => m.Name), Is.EqualTo(new[] { "magnitude", "diagfisher", "kfac", "woodfisher", "woodtaylor", "exact" }));
        foreach (var m in PruningMethod.All)
        {
            Assert.That(PruningMethod.Find(m.Name), Is.SameAs(m));
            Assert.That(MethodSpec.Keys, Is.SupersetOf(m.Keys), m.Name);
        }

        Assert.That(new Kernels.WoodFisherOptions().BlockSize, Is.EqualTo(EstimatorSpec.DefaultBlockSize), "one default block size");
        Assert.That(new Kernels.WoodFisherOptions().Damping, Is.EqualTo(EstimatorSpec.UnjudgedDamping), "one λ where none is chosen");
        Assert.That(new EstimatorSpec().Damping.IsAuto, Is.True, "automatic damping by default");
    }

    // The model path must give exactly the estimator one builds by hand from the model's per-sample gradients:
    // same float32 gradients, float64 storage on both sides, so agreement to rounding (1e-8 of max |H⁻¹|).
    [Test]
    public void WoodFisher_FromModel_EqualsDenseInverseOfItsPerSampleGradients()
    {
        var model = ModelFactory.Create("mlp:6-5-3", seed: 2);
        var (x, y) = Data(40, 6, 3, 3);
        var sel = ParameterSelection<float>.Prunable(model);
        var mc = new ModelCurvature(model, sel, x, y);
        var spec = new EstimatorSpec { Method = PruningMethod.WoodFisher, BlockSize = 7, Damping = 1e-2, Samples = 40, Precision = Precision.Float64, Backend = BackendKind.Cpu };
        using var est = (WoodFisherCurvature)mc.Build(spec).Inverse;

        var g = PerSampleGradients.Compute(model, x, y, 40, sel, 1);
        var dense = DenseCurvature.FromGradients(Array.ConvertAll(g, v => (double)v), 40, sel.Dimension, 1e-2, BlockLayout.Create(sel.Dimension, 7, sel.Segments));
        var scale = dense.Diagonal().Max();
        Assert.Multiple(() =>
        {
            Assert.That(est.Layout.Count, Is.EqualTo(dense.Layout.Count));
            Assert.That(est.Diagonal(), Is.EqualTo(dense.Diagonal()).Within(1e-8 * scale));
        });
    }

    // Softmax regression: the Hessian is (1/N)Σ(diag p − ppᵀ) ⊗ xxᵀ, positive semi-definite, so the exact estimator is
    // (H + λI)⁻¹ with no eigenvalue treatment at work; compare H⁻¹v against a solve with the closed-form Hessian.
    [Test]
    public void Exact_OnSoftmaxRegression_EqualsInverseOfClosedFormHessian()
    {
        const int f = 4, k = 3, n = 30;
        const double lambda = 1e-3;
        var model = ModelFactory.Create($"mlp:{f}-{k}:nobias", seed: 5);
        var (x, y) = Data(n, f, k, 6);
        var sel = ParameterSelection<float>.Prunable(model);
        var mc = new ModelCurvature(model, sel, x, y);
        var est = mc.Build(new EstimatorSpec { Method = PruningMethod.Exact, Damping = lambda, Samples = n });

        var w = mc.GetWeights();
        var d = f * k;
        var h = new double[d * d];
        for (var s = 0; s < n; s++)
        {
            var logits = new double[k];
            for (var o = 0; o < k; o++)
            {
                for (var i = 0; i < f; i++)
                {
                    logits[o] += w[(o * f) + i] * x[(s * f) + i];
                }
            }

            var max = logits.Max();
            var p = logits.Select(l => Math.Exp(l - max)).ToArray();
            var z = p.Sum();
            for (var o = 0; o < k; o++)
            {
                p[o] /= z;
            }

            for (var o = 0; o < k; o++)
            {
                for (var o2 = 0; o2 < k; o2++)
                {
                    var a = ((o == o2 ? p[o] : 0) - (p[o] * p[o2])) / n;
                    for (var i = 0; i < f; i++)
                    {
                        for (var i2 = 0; i2 < f; i2++)
                        {
                            h[(((o * f) + i) * d) + (o2 * f) + i2] += a * x[(s * f) + i] * x[(s * f) + i2];
                        }
                    }
                }
            }
        }

        var v = Enumerable.Range(0, d).Select(i => Math.Sin(i + 1.0)).ToArray();
        var u = est.Inverse.Multiply(v);
        var hu = new double[d];
        for (var i = 0; i < d; i++)
        {
            hu[i] = lambda * u[i];
            for (var j = 0; j < d; j++)
            {
                hu[i] += h[(i * d) + j] * u[j];
            }
        }

        // (H + λI)u must give back v. The model's HVPs run in float32 (~1e-7 relative per Hessian entry) and
        // ‖u‖ ≤ ‖v‖/λ = 1e3‖v‖, so the residual can reach ~1e-4.
        Assert.That(hu, Is.EqualTo(v).Within(1e-4));
    }

    [Test]
    public void Kfac_FromModel_LayersMatchSelectionWithAndWithoutBiases()
    {
        var model = ModelFactory.Create("mlp:5-4-3", seed: 1);
        var (x, y) = Data(20, 5, 3, 2);
        var weightsOnly = new ModelCurvature(model, ParameterSelection<float>.Prunable(model), x, y);
        var withBias = new ModelCurvature(model, ParameterSelection<float>.Prunable(model, includeBiases: true), x, y);
        var l1 = weightsOnly.KfacLayers(x, y, 20);
        var l2 = withBias.KfacLayers(x, y, 20);
        var k1 = (KfacCurvature)weightsOnly.Build(new EstimatorSpec { Method = PruningMethod.Kfac, Samples = 20, Damping = 1e-3 }).Inverse;
        Assert.Multiple(() =>
        {
            Assert.That(l1.Select(l => (l.OutFeatures, l.InFeatures, l.HasBias)), Is.EqualTo(new[] { (4, 5, false), (3, 4, false) }));
            Assert.That(l2.Select(l => (l.OutFeatures, l.InFeatures, l.HasBias)), Is.EqualTo(new[] { (4, 5, true), (3, 4, true) }));
            Assert.That(k1.Dimension, Is.EqualTo(ParameterSelection<float>.Prunable(model).Dimension));
            Assert.That(l2.Sum(l => l.Dimension), Is.EqualTo(ParameterSelection<float>.Prunable(model, includeBiases: true).Dimension));
        });
    }

    [Test]
    public void Factory_WritesWeightsIntoModelBeforeBuilding()
    {
        var model = ModelFactory.Create("mlp:5-4-3", seed: 1);
        var (x, y) = Data(10, 5, 3, 2);
        var mc = new ModelCurvature(model, ParameterSelection<float>.Prunable(model), x, y);
        var w = mc.GetWeights();
        w[0] = 0.25;
        using var est = mc.Factory(new EstimatorSpec { Method = PruningMethod.Magnitude, Samples = 10 }, withGradient: true)(w, Enumerable.Repeat(true, w.Length).ToArray());
        Assert.Multiple(() =>
        {
            Assert.That(mc.GetWeights()[0], Is.EqualTo(0.25));
            Assert.That(est.Gradient, Has.Length.EqualTo(w.Length));
            Assert.That(() => mc.Build(new EstimatorSpec { Samples = 11, Damping = 1e-3 }), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => mc.Build(new EstimatorSpec { Samples = 5, Damping = 0 }), Throws.TypeOf<ArgumentOutOfRangeException>());
        });
    }
}
