using WoodFisher.Models.Autograd;

namespace WoodFisher.Models.Tests;

public class LossCurvatureTests
{
    /// <summary>Closed form for softmax regression z = Wx (W [c, in], no bias): H = (1/N)Σₙ (diag pₙ − pₙpₙᵀ) ⊗ xₙxₙᵀ, index o·in + i.</summary>
    private static double[] SoftmaxRegressionHessian(IModel<double> model, float[] x, int n, int inF, int c)
    {
        var p = FisherMatrices.Probabilities(model, x, n);
        var d = c * inF;
        var h = new double[d * d];
        for (var s = 0; s < n; s++)
            for (var o = 0; o < c; o++)
                for (var o2 = 0; o2 < c; o2++)
                {
                    var a = (o == o2 ? p[s * c + o] : 0) - p[s * c + o] * p[s * c + o2];
                    for (var i = 0; i < inF; i++)
                        for (var i2 = 0; i2 < inF; i2++)
                            h[(o * inF + i) * d + o2 * inF + i2] += a * x[s * inF + i] * x[s * inF + i2] / n;
                }
        return h;
    }

    [Test]
    public void Hessian_OfSoftmaxRegression_EqualsClosedForm_Float64()
    {
        var model = ModelFactory.Create<double>("mlp:5-4:nobias", seed: 1);
        var (x, y) = TestData.Random(9, 5, 4, 2);
        var sel = ParameterSelection<double>.Prunable(model);
        var h = LossHessian.Dense(model, x, y, 9, sel);
        // Same sums in another order: float64 rounding only.
        Assert.That(h, Is.EqualTo(SoftmaxRegressionHessian(model, x, 9, 5, 4)).Within(1e-13));
        // For a linear model GN = H exactly; the true Fisher's expectation is GN too.
        var gn = FisherMatrices.GaussNewton(model, x, 9, sel);
        Assert.That(gn, Is.EqualTo(h).Within(1e-13));
    }

    [TestCase("mlp:6-5-4-3", true)]
    [TestCase("lenet5:1x12x12", false)]
    [TestCase("resnet20:1x4x4", false)]
    [TestCase("resnet20:1x4x4", true)]
    [TestCase("resnet20:1x8x8", true)]
    [TestCase("cifarnet:1x4x4", false)]
    public void Hvp_MatchesFiniteDifferenceOfGradients_Float64(string spec, bool biases)
    {
        var model = ModelFactory.Create<double>(spec, seed: 2);
        var per = model.InputShape.Aggregate(1, (a, b) => a * b);
        var (x, y) = TestData.Random(6, per, model.NumClasses, 3);
        var sel = biases ? ParameterSelection<double>.Prunable(model, true) : ParameterSelection<double>.All(model);
        var d = sel.Dimension;
        var rng = new Random(4);
        var v = Enumerable.Range(0, d).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var hv = new double[d];
        LossHessian.VectorProduct(model, x, y, 6, sel, v, hv);

        var theta = new double[d];
        sel.Gather(theta);
        const double eps = 1e-8;
        double[] GradAt(double s)
        {
            sel.Scatter(theta.Select((t, i) => t + s * v[i]).ToArray());
            var g = LossGradient.Mean(model, x, y, 6, sel);
            sel.Scatter(theta);
            return g;
        }
        var gp = GradAt(eps);
        var gm = GradAt(-eps);
        var scale = hv.Max(Math.Abs);
        // Central differences with ε = 1e-8: O(ε²) truncation + O(1e-16/ε) ≈ 1e-8 rounding relative to |Hv|. ε is this small
        // because a ResNet has ~10⁴–10⁵ ReLU units: with ε = 1e-5 one of them crosses its kink, and the gradient jump divided
        // by 2ε ruins the oracle (observed on resnet20:1x8x8), not the R-op.
        for (var i = 0; i < d; i++)
            Assert.That(hv[i], Is.EqualTo((gp[i] - gm[i]) / (2 * eps)).Within(1e-6 * scale), $"coordinate {i}");
    }

    [Test]
    public void Hessian_IsSymmetric_ForAnMlpWithBiases_Float64()
    {
        var model = ModelFactory.Create<double>("mlp:4-3-3", seed: 5);
        var (x, y) = TestData.Random(8, 4, 3, 6);
        var sel = ParameterSelection<double>.All(model);
        var h = LossHessian.Dense(model, x, y, 8, sel);
        var d = sel.Dimension;
        for (var i = 0; i < d; i++)
            for (var j = 0; j < i; j++)
                Assert.That(h[i * d + j], Is.EqualTo(h[j * d + i]).Within(1e-14));
        // A hidden layer makes the Hessian differ from GN (the residual term Σ ∂ℓ/∂z ∂²z/∂θ² is non-zero).
        var gn = FisherMatrices.GaussNewton(model, x, 8, sel);
        Assert.That(h.Zip(gn, (a, b) => Math.Abs(a - b)).Max(), Is.GreaterThan(1e-4));
    }

    [Test]
    public void TrueFisher_ConvergesToGaussNewton_AndEmpiricalFisherIsPsd_Float64()
    {
        var model = ModelFactory.Create<double>("mlp:4-3-3", seed: 5);
        var (x, y) = TestData.Random(8, 4, 3, 6);
        var sel = ParameterSelection<double>.Prunable(model);
        var gn = FisherMatrices.GaussNewton(model, x, 8, sel);
        var f = FisherMatrices.TrueFisher(model, x, 8, sel, seed: 1, samplesPerInput: 400);
        var scale = gn.Max(Math.Abs);
        // Monte-Carlo error ~ 1/√(N·S) = 1/√3200 ≈ 2% of the entries' scale; 10% bound.
        Assert.That(f.Zip(gn, (a, b) => Math.Abs(a - b)).Max(), Is.LessThan(0.1 * scale));
        var ef = FisherMatrices.EmpiricalFisher(model, x, y, 8, sel);
        var d = sel.Dimension;
        var rng = new Random(2);
        var v = Enumerable.Range(0, d).Select(_ => rng.NextDouble() - 0.5).ToArray();
        double q = 0;
        for (var i = 0; i < d; i++)
            for (var j = 0; j < d; j++)
                q += v[i] * ef[i * d + j] * v[j];
        Assert.That(q, Is.GreaterThanOrEqualTo(0));
    }

    [Test]
    public void DenseGuard_RefusesWithNeededBytes()
    {
        var ex = Assert.Throws<InsufficientMemoryException>(() => LossHessian.EnsureDenseFits(2_000_000));
        Assert.That(ex!.Message, Does.Contain("32,000,000,000,000"));
    }

    [Test]
    public void Kfac_OneSample_KroneckerEqualsEmpiricalFisher_Float64()
    {
        // With N = 1, g = vec(δ āᵀ) so g gᵀ = (δδᵀ) ⊗ (āāᵀ) = G ⊗ A exactly.
        var model = ModelFactory.Create<double>("mlp:4-3-2", seed: 1);
        var (x, y) = TestData.Random(1, 4, 2, 2);
        var f = KfacFactors.Compute(model, x, y, 1, includeBias: true);
        Assert.That(f.Select(l => l.WeightName), Is.EqualTo(new[] { "fc1.weight", "fc2.weight" }));
        var layer = f[1];
        Assert.That((layer.DimA, layer.DimG, layer.BiasName), Is.EqualTo((4, 2, "fc2.bias")));
        var sel = ParameterSelection<double>.ByNames(model, ["fc2.weight", "fc2.bias"]);
        var g = PerSampleGradients.Compute(model, x, y, 1, sel);
        // Row of [W | b] in [out, in+1] layout: entry (o, i) is W[o,i] for i < in, b[o] for i = in.
        double Coord(int o, int i) => i < 3 ? g[o * 3 + i] : g[6 + o];
        for (var o = 0; o < 2; o++)
            for (var i = 0; i < 4; i++)
                for (var o2 = 0; o2 < 2; o2++)
                    for (var i2 = 0; i2 < 4; i2++)
                        Assert.That(layer.G[o * 2 + o2] * layer.A[i * 4 + i2], Is.EqualTo(Coord(o, i) * Coord(o2, i2)).Within(1e-14));
    }

    [Test]
    public void Kfac_ConvFactors_HaveKfcShapes_AndAreSymmetric()
    {
        var model = ModelFactory.Create<double>("lenet5:1x12x12", seed: 1);
        var (x, y) = TestData.Random(5, 144, 10, 2);
        var f = KfacFactors.Compute(model, x, y, 5);
        Assert.That(f.Select(l => (l.WeightName, l.DimA, l.DimG)), Is.EqualTo(new[]
        {
            ("conv1.weight", 26, 6), ("conv2.weight", 151, 16), ("fc1.weight", 17, 120), ("fc2.weight", 121, 84), ("fc3.weight", 85, 10),
        }));
        var a = f[1].A;
        for (var i = 0; i < 151; i++)
            for (var j = 0; j < i; j++)
                Assert.That(a[i * 151 + j], Is.EqualTo(a[j * 151 + i]).Within(1e-12));
        Assert.That(a[151 * 151 - 1], Is.EqualTo(1.0).Within(1e-12), "bias coordinate: E[1·1] = 1");
    }

    [Test]
    public void SampledLabelsAndTrueFisher_AreDeterministicPerSeed()
    {
        var model = ModelFactory.Create<double>("mlp:4-3-3", seed: 5);
        var (x, _) = TestData.Random(8, 4, 3, 6);
        var first = KfacFactors.SampleLabels(model, x, 8, seed: 9);
        Assert.That(KfacFactors.SampleLabels(model, x, 8, seed: 9), Is.EqualTo(first));
        var sel = ParameterSelection<double>.Prunable(model);
        var f = FisherMatrices.TrueFisher(model, x, 8, sel, seed: 4);
        Assert.That(FisherMatrices.TrueFisher(model, x, 8, sel, seed: 4), Is.EqualTo(f));
    }
}
