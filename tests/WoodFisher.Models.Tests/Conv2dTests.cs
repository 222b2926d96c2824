using System.Globalization;
using WoodFisher.Models.Autograd;
using WoodFisher.Models.Tests.IO;

namespace WoodFisher.Models.Tests;

/// <summary>
/// Conv2d (products with the windows of the padded input) against the definition of a convolution written as six nested
/// loops in float64, over geometries chosen to break the grid layout: strides 1–3, padding wider than the kernel's reach,
/// kernels taller than wide, one-pixel images, and batches long enough to be split into several runs across the cores;
/// against PyTorch's conv2d where python3-torch is installed; and by finite differences for odd geometries.
/// </summary>
public class Conv2dTests
{
    private static IEnumerable<TestCaseData> Geometries()
    {
        // n, C, H, W, O, kh, kw, stride, pad
        yield return new TestCaseData(1, 1, 1, 1, 1, 1, 1, 1, 0);
        yield return new TestCaseData(3, 2, 5, 5, 3, 3, 3, 1, 1);
        yield return new TestCaseData(5, 2, 7, 6, 4, 3, 2, 2, 1);
        yield return new TestCaseData(4, 3, 9, 8, 5, 5, 3, 3, 2);
        yield return new TestCaseData(2, 1, 3, 3, 2, 5, 5, 1, 3);
        yield return new TestCaseData(37, 6, 14, 14, 16, 5, 5, 1, 0);
        yield return new TestCaseData(40, 1, 28, 28, 6, 5, 5, 1, 2);
    }

    [TestCaseSource(nameof(Geometries))]
    public void Forward_AndGradients_EqualTheNestedLoopDefinition_Float64(int n, int c, int h, int w, int o, int kh, int kw, int stride, int pad)
    {
        var rng = new Random(n * 31 + c);
        var x = GradCheck.Random([n, c, h, w], rng);
        var wt = new Parameter<double>("w", [o, c, kh, kw], true, GradCheck.Random([o, c, kh, kw], rng).Data);
        var b = new Parameter<double>("b", [o], false, GradCheck.Random([o], rng).Data);
        var tape = new Tape<double>();
        var y = Ops.Conv2d(tape, x, wt, b, stride, pad);
        int ho = y.Dim(2), wo = y.Dim(3);
        Assert.That((ho, wo), Is.EqualTo(((h + 2 * pad - kh) / stride + 1, (w + 2 * pad - kw) / stride + 1)));

        // Seed ∂L/∂y with a random g through a linear loss Σ g·y: then ∂W = Σ g·x-patch, ∂x = Σ g·W, ∂b = Σ g.
        var g = GradCheck.Random(y.Shape, rng, false).Data;
        var loss = Ops.Linear(tape, Ops.Reshape(tape, y, [1, y.Length]), new Parameter<double>("g", [1, y.Length], false, g) { RequiresGrad = false }, null);
        tape.Backward(loss);
        var (ey, egw, egx, egb) = Naive(x.Data, wt.Data, b.Data, g, n, c, h, w, o, kh, kw, stride, pad, ho, wo);
        Assert.That(y.Data, Is.EqualTo(ey).Within(1e-12), "y");
        Assert.That(tape.Grad(wt), Is.EqualTo(egw).Within(1e-11), "∂W");
        Assert.That(tape.Grad(x), Is.EqualTo(egx).Within(1e-12), "∂x");
        Assert.That(tape.Grad(b), Is.EqualTo(egb).Within(1e-11), "∂b");
    }

    [TestCase(3, 1)]
    [TestCase(1, 2)]
    public void OddGeometry_GradientAndHvp_MatchFiniteDifferences_Float64(int stride, int padding)
    {
        var rng = new Random(7);
        var x = GradCheck.Random([5, 2, 7, 6], rng);
        var w = new Parameter<double>("w", [3, 2, 3, 2], true, GradCheck.Random([3, 2, 3, 2], rng).Data);
        var b = new Parameter<double>("b", [3], false, GradCheck.Random([3], rng).Data);
        GradCheck.Check(t => Ops.Conv2d(t, x, w, b, stride, padding), [x, w, b]);
    }

    [Test]
    public void Forward_AndGradients_EqualPyTorch_Float32()
    {
        var probe = Python.Run("""
            try:
                import torch
                print("ok")
            except ImportError:
                print("missing")
            """);
        if (probe != "ok")
            Assert.Ignore("python3-torch is not installed");
        using var dir = new TempDir();
        // PyTorch makes the data, runs conv2d (stride 2, padding 1) and writes y, ∂W, ∂x, ∂b for the loss Σ g·y.
        Python.Run("""
            import torch
            torch.manual_seed(0)
            x = torch.rand(6, 3, 11, 10, requires_grad=True)
            w = (torch.rand(4, 3, 3, 3) - 0.5).requires_grad_()
            b = (torch.rand(4) - 0.5).requires_grad_()
            y = torch.nn.functional.conv2d(x, w, b, stride=2, padding=1)
            g = torch.rand_like(y)
            (y * g).sum().backward()
            for name, t in [("x", x), ("w", w), ("b", b), ("y", y), ("g", g), ("gx", x.grad), ("gw", w.grad), ("gb", b.grad)]:
                np.save(sys.argv[1] + "/" + name + ".npy", t.detach().numpy().astype(np.float32))
            """, dir.Path);
        float[] Load(string name) => WoodFisher.IO.Npy.Read(dir.File(name + ".npy")).ToFloat32();
        var x = new Tensor<float>([6, 3, 11, 10], Load("x"), true);
        var w = new Parameter<float>("w", [4, 3, 3, 3], true, Load("w"));
        var b = new Parameter<float>("b", [4], false, Load("b"));
        var tape = new Tape<float>();
        var y = Ops.Conv2d(tape, x, w, b, 2, 1);
        var g = Load("g");
        var loss = Ops.Linear(tape, Ops.Reshape(tape, y, [1, y.Length]), new Parameter<float>("g", [1, y.Length], false, g) { RequiresGrad = false }, null);
        tape.Backward(loss);
        // float32 sums of ≤ 27 (y, ∂x) or ≤ 6·6·5 = 180 (∂W, ∂b) products of O(1) terms: ≲ 1e-5 apart.
        Assert.That(y.Data, Is.EqualTo(Load("y")).Within(1e-5), "y");
        Assert.That(tape.Grad(x), Is.EqualTo(Load("gx")).Within(1e-5), "∂x");
        Assert.That(tape.Grad(w), Is.EqualTo(Load("gw")).Within(1e-4), "∂W");
        Assert.That(tape.Grad(b), Is.EqualTo(Load("gb")).Within(1e-4), "∂b");
    }

    [Test]
    public void RecycledTape_GivesTheSameStepAsAFreshOne_AndReusesItsBuffers()
    {
        var model = ModelFactory.Create<float>("lenet5:1x12x12", seed: 2);
        var rng = new Random(3);
        var x = Enumerable.Range(0, 20 * 144).Select(_ => (float)rng.NextDouble()).ToArray();
        var labels = Enumerable.Range(0, 20).Select(i => i % 10).ToArray();
        float[][] Step(bool recycle)
        {
            using var tape = new Tape<float> { RecycleBuffers = recycle };
            var loss = Ops.SoftmaxCrossEntropy(tape, model.Forward(tape, Batching.Slice(model, x, 0, 20)), labels);
            tape.Backward(loss);
            return model.Parameters.Select(p => (float[])tape.Grad(p).Clone()).ToArray();
        }

        var fresh = Step(false);
        for (var repeat = 0; repeat < 3; repeat++)
        {
            // Recycled buffers hold stale values from the previous step: results must not depend on them.
            var again = Step(true);
            for (var i = 0; i < fresh.Length; i++)
                Assert.That(again[i], Is.EqualTo(fresh[i]), $"{model.Parameters[i].Name}, step {repeat}");
        }
    }

    private static (double[] Y, double[] Gw, double[] Gx, double[] Gb) Naive(double[] x, double[] w, double[] b, double[] g,
        int n, int c, int h, int wd, int o, int kh, int kw, int s, int pad, int ho, int wo)
    {
        var y = new double[n * o * ho * wo];
        var gw = new double[w.Length];
        var gx = new double[x.Length];
        var gb = new double[o];
        for (var i = 0; i < n; i++)
            for (var oc = 0; oc < o; oc++)
                for (var oy = 0; oy < ho; oy++)
                    for (var ox = 0; ox < wo; ox++)
                    {
                        var yi = ((i * o + oc) * ho + oy) * wo + ox;
                        var sum = b[oc];
                        gb[oc] += g[yi];
                        for (var ch = 0; ch < c; ch++)
                            for (var u = 0; u < kh; u++)
                                for (var v = 0; v < kw; v++)
                                {
                                    int iy = oy * s - pad + u, ix = ox * s - pad + v;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= wd)
                                        continue;
                                    var xi = ((i * c + ch) * h + iy) * wd + ix;
                                    var wi = ((oc * c + ch) * kh + u) * kw + v;
                                    sum += w[wi] * x[xi];
                                    gw[wi] += g[yi] * x[xi];
                                    gx[xi] += g[yi] * w[wi];
                                }
                        y[yi] = sum;
                    }
        return (y, gw, gx, gb);
    }
}
