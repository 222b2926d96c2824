using WoodFisher.Models.Autograd;

namespace WoodFisher.Models.Tests;

// Tolerances: float64 central differences with ε = 1e-6 have truncation error O(ε²·f''') ≈ 1e-12 and rounding error
// O(1e-16/ε) ≈ 1e-10, so 1e-6 relative is generous for gradients; HVPs difference gradients (ε = 1e-5), hence 1e-5.
// Kinks (ReLU at 0, max-pool ties) are avoided by random inputs: none lands within ε of a kink for these seeds.
public class OpGradientTests
{
    private static Parameter<double> Param(string name, int[] shape, Random rng, bool prunable = true) =>
        new(name, shape, prunable, GradCheck.Random(shape, rng).Data);

    [Test]
    public void Linear_GradientAndHvp_MatchFiniteDifferences_Float64()
    {
        var rng = new Random(1);
        var x = GradCheck.Random([4, 5], rng);
        var w = Param("w", [3, 5], rng);
        var b = Param("b", [3], rng, false);
        GradCheck.Check(t => Ops.Linear(t, x, w, b), [x, w, b]);
    }

    [Test]
    public void Relu_GradientAndHvp_MatchFiniteDifferences_Float64()
    {
        var rng = new Random(2);
        var x = GradCheck.Random([4, 6], rng);
        var w = Param("w", [6, 6], rng);
        GradCheck.Check(t => Ops.Relu(t, Ops.Linear(t, x, w, null)), [x, w]);
    }

    [TestCase(1, 0)]
    [TestCase(2, 1)]
    public void Conv2d_GradientAndHvp_MatchFiniteDifferences_Float64(int stride, int padding)
    {
        var rng = new Random(3);
        var x = GradCheck.Random([2, 2, 5, 5], rng);
        var w = Param("w", [3, 2, 3, 3], rng);
        var b = Param("b", [3], rng, false);
        GradCheck.Check(t => Ops.Conv2d(t, x, w, b, stride, padding), [x, w, b]);
    }

    [Test]
    public void MaxPool2d_GradientAndHvp_MatchFiniteDifferences_Float64()
    {
        var rng = new Random(4);
        var x = GradCheck.Random([2, 2, 4, 4], rng);
        var w = Param("w", [2, 2, 1, 1], rng);
        GradCheck.Check(t => Ops.MaxPool2d(t, Ops.Conv2d(t, x, w, null, 1, 0), 2, 2), [x, w]);
    }

    [Test]
    public void AvgPool2d_GradientAndHvp_MatchFiniteDifferences_Float64()
    {
        var rng = new Random(5);
        var x = GradCheck.Random([2, 2, 4, 4], rng);
        var w = Param("w", [2, 2, 1, 1], rng);
        GradCheck.Check(t => Ops.AvgPool2d(t, Ops.Conv2d(t, x, w, null, 1, 0), 2, 2), [x, w]);
    }

    [Test]
    public void BatchNorm2d_Eval_GradientAndHvp_MatchFiniteDifferences_Float64()
    {
        var rng = new Random(6);
        var x = GradCheck.Random([3, 2, 3, 3], rng);
        var w = Param("w", [2, 2, 1, 1], rng);
        var gamma = Param("g", [2], rng, false);
        var beta = Param("b", [2], rng, false);
        var rm = new Tensor<double>([2], [0.1, -0.2]);
        var rv = new Tensor<double>([2], [0.5, 1.5]);
        GradCheck.Check(t => Ops.BatchNorm2d(t, Ops.Conv2d(t, x, w, null, 1, 0), gamma, beta, rm, rv, false), [x, w, gamma, beta]);
    }

    [Test]
    public void BatchNorm2d_Train_Gradient_MatchesFiniteDifferences_Float64()
    {
        var rng = new Random(7);
        var x = GradCheck.Random([3, 2, 3, 3], rng);
        var gamma = Param("g", [2], rng, false);
        var beta = Param("b", [2], rng, false);
        var rm = new Tensor<double>([2]);
        var rv = new Tensor<double>([2]);
        GradCheck.Check(t => Ops.BatchNorm2d(t, x, gamma, beta, rm, rv, true), [x, gamma, beta], checkHvp: false);
    }

    [Test]
    public void ResidualAdd_GradientAndHvp_MatchFiniteDifferences_Float64()
    {
        var rng = new Random(8);
        var x = GradCheck.Random([3, 4], rng);
        var w = Param("w", [4, 4], rng);
        GradCheck.Check(t => Ops.Add(t, Ops.Relu(t, Ops.Linear(t, x, w, null)), x), [x, w]);
    }

    [Test]
    public void Dropout_FixedMask_GradientAndHvp_MatchFiniteDifferences_Float64()
    {
        var rng = new Random(9);
        var x = GradCheck.Random([3, 5], rng);
        var w = Param("w", [5, 5], rng);
        GradCheck.Check(t => Ops.Dropout(t, Ops.Linear(t, x, w, null), 0.3, new Random(42)), [x, w]);
    }

    [Test]
    public void LogSoftmaxThenNll_EqualsCrossEntropy_AndChecksOut_Float64()
    {
        var rng = new Random(10);
        var x = GradCheck.Random([4, 5], rng);
        var w = Param("w", [3, 5], rng);
        int[] labels = [0, 2, 1, 2];
        GradCheck.Check(t => Ops.LogSoftmax(t, Ops.Linear(t, x, w, null)), [x, w]);

        var t1 = new Tape<double>();
        var a = Ops.NllLoss(t1, Ops.LogSoftmax(t1, Ops.Linear(t1, x, w, null)), labels);
        var t2 = new Tape<double>();
        var b = Ops.SoftmaxCrossEntropy(t2, Ops.Linear(t2, x, w, null), labels);
        Assert.That(a.Data[0], Is.EqualTo(b.Data[0]).Within(1e-12));
        t1.Backward(a);
        t2.Backward(b);
        Assert.That(t1.Grad(w), Is.EqualTo(t2.Grad(w)).Within(1e-12));
    }

    [Test]
    public void NllLoss_GradientAndHvp_MatchFiniteDifferences_Float64()
    {
        var rng = new Random(11);
        var x = GradCheck.Random([4, 5], rng);
        var w = Param("w", [3, 5], rng);
        int[] labels = [0, 2, 1, 2];
        // The harness's own loss sits on top; NLL feeds it through a [n, 1] reshape of a per-row value.
        GradCheck.Check(t =>
        {
            var lp = Ops.LogSoftmax(t, Ops.Linear(t, x, w, null));
            var l = Ops.NllLoss(t, lp, labels);
            return Ops.Reshape(t, Ops.Add(t, l, l), [1, 1]);
        }, [x, w]);
    }

    [Test]
    public void ClassificationLosses_RefuseLabelsOutsideTheClasses()
    {
        var logits = new Tensor<double>([2, 3], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
        foreach (var loss in new Func<Tape<double>, int[], Tensor<double>>[]
                 {
                     (t, y) => Ops.SoftmaxCrossEntropy(t, logits, y),
                     (t, y) => Ops.NllLoss(t, logits, y),
                 })
        {
            Assert.That(() => loss(new Tape<double>(), [0, 3]), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("Label 3 at row 1"));
            Assert.That(() => loss(new Tape<double>(), [0]), Throws.ArgumentException.With.Message.Contains("Need 2 labels"));
        }
    }
}
