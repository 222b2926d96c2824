using WoodFisher.Models.Autograd;

namespace WoodFisher.Models.Tests;

/// <summary>
/// PyTorch-gradcheck-style oracle in float64: f(inputs) = CE(P·flatten(op(inputs)), y) with a fixed random projection P, so
/// the loss is nonlinear in the op's output and both the gradient and the Hessian-vector product of every input are
/// compared against central finite differences.
/// </summary>
internal static class GradCheck
{
    public static Tensor<double> Random(int[] shape, Random rng, bool requiresGrad = true, double scale = 1)
    {
        var n = shape.Aggregate(1, (a, b) => a * b);
        var d = new double[n];
        for (var i = 0; i < n; i++)
            d[i] = (rng.NextDouble() * 2 - 1) * scale;
        return new Tensor<double>(shape, d, requiresGrad);
    }

    public static void Check(Func<Tape<double>, Tensor<double>> op, Tensor<double>[] inputs, int seed = 1,
        bool checkHvp = true, double gradTol = 1e-6, double hvpTol = 1e-5)
    {
        var rng = new Random(seed);
        Tensor<double>? proj = null;
        int[] labels = [];
        double Loss(Tape<double> tape, out Tensor<double> loss)
        {
            var y = op(tape);
            var n = y.Dim(0);
            var per = y.Length / n;
            if (proj is null)
            {
                proj = new Parameter<double>("P", [3, per], false, Random([3, per], rng, false).Data) { RequiresGrad = false };
                labels = Enumerable.Range(0, n).Select(i => i % 3).ToArray();
            }
            var flat = Ops.Reshape(tape, y, [n, per]);
            var z = Ops.Linear(tape, flat, (Parameter<double>)proj, null);
            loss = Ops.SoftmaxCrossEntropy(tape, z, labels);
            return loss.Data[0];
        }

        var t0 = new Tape<double>();
        Loss(t0, out var l0);
        t0.Backward(l0);
        var grads = inputs.Select(t => (double[])t0.Grad(t).Clone()).ToArray();

        const double eps = 1e-6;
        for (var k = 0; k < inputs.Length; k++)
        {
            var data = inputs[k].Data;
            for (var i = 0; i < data.Length; i++)
            {
                var old = data[i];
                data[i] = old + eps;
                var lp = Loss(new Tape<double>(), out _);
                data[i] = old - eps;
                var lm = Loss(new Tape<double>(), out _);
                data[i] = old;
                var fd = (lp - lm) / (2 * eps);
                Assert.That(grads[k][i], Is.EqualTo(fd).Within(gradTol * Math.Max(1, Math.Abs(fd))), $"∂L/∂input{k}[{i}]");
            }
        }
        if (!checkHvp)
            return;

        var v = inputs.Select(t => Random(t.Shape, rng, false).Data).ToArray();
        var th = new Tape<double> { ForwardOverReverse = true };
        for (var k = 0; k < inputs.Length; k++)
            th.SetTangent(inputs[k], v[k]);
        Loss(th, out var lh);
        th.Backward(lh);
        var hv = inputs.Select(t => (double[])th.GradTangent(t).Clone()).ToArray();

        const double h = 1e-5;
        double[][] GradAt(double s)
        {
            for (var k = 0; k < inputs.Length; k++)
                for (var i = 0; i < v[k].Length; i++)
                    inputs[k].Data[i] += s * v[k][i];
            var t = new Tape<double>();
            Loss(t, out var l);
            t.Backward(l);
            var g = inputs.Select(x => (double[])t.Grad(x).Clone()).ToArray();
            for (var k = 0; k < inputs.Length; k++)
                for (var i = 0; i < v[k].Length; i++)
                    inputs[k].Data[i] -= s * v[k][i];
            return g;
        }
        var gp = GradAt(h);
        var gm = GradAt(-h);
        for (var k = 0; k < inputs.Length; k++)
            for (var i = 0; i < hv[k].Length; i++)
            {
                var fd = (gp[k][i] - gm[k][i]) / (2 * h);
                Assert.That(hv[k][i], Is.EqualTo(fd).Within(hvpTol * Math.Max(1, Math.Abs(fd))), $"(Hv) input{k}[{i}]");
            }
    }
}
