using System.Diagnostics;
using System.Globalization;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Bench;

/// <summary>
/// Per-op times of one LeNet-5 training step at batch 128 (best of N, wall-clock, both cores): each layer's forward and
/// backward, for finding where a step's time goes. Run: <c>dotnet run -c Release --project bench/WoodFisher.Bench -- conv-profile [reps] [op]</c>
/// (op: a name prefix, e.g. conv2, to run one op only, as under <c>perf stat</c>).
/// </summary>
public static class ConvProfile
{
    public static void Run(string[] args)
    {
        var reps = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20;
        var only = args.Length > 1 ? args[1] : "";
        var rng = new Random(0);
        void Time(string what, int reps, Func<Func<Tape<float>, Tensor<float>>> make)
        {
            if (what.StartsWith(only, StringComparison.Ordinal))
                TimeOp(what, reps, make);
        }

        Time("conv1 (1→6, 5×5, pad 2) on 128×1×28×28", reps, Conv(rng, [128, 1, 28, 28], [6, 1, 5, 5], 2, false));
        Time("conv2 (6→16, 5×5) on 128×6×14×14", reps, Conv(rng, [128, 6, 14, 14], [16, 6, 5, 5], 0, true));
        Time("relu on 128×6×28×28", reps, Unary(rng, [128, 6, 28, 28], (t, x) => Ops.Relu(t, x)));
        Time("maxpool 2 on 128×6×28×28", reps, Unary(rng, [128, 6, 28, 28], (t, x) => Ops.MaxPool2d(t, x, 2, 2)));
        Time("fc1 (400→120) on 128", reps, () =>
        {
            var x = Random(rng, [128, 400], true);
            var w = new Parameter<float>("w", [120, 400], true, Random(rng, [120, 400], false).Data);
            return t => Ops.Linear(t, x, w, null);
        });
    }

    private static Func<Func<Tape<float>, Tensor<float>>> Conv(Random rng, int[] xs, int[] ws, int pad, bool inputGrad)
        => () =>
        {
            var x = Random(rng, xs, inputGrad);
            var w = new Parameter<float>("w", ws, true, Random(rng, ws, false).Data);
            var b = new Parameter<float>("b", [ws[0]], false, new float[ws[0]]);
            return t => Ops.Conv2d(t, x, w, b, 1, pad);
        };

    private static Func<Func<Tape<float>, Tensor<float>>> Unary(Random rng, int[] xs, Func<Tape<float>, Tensor<float>, Tensor<float>> op)
        => () =>
        {
            var x = Random(rng, xs, true);
            return t => op(t, x);
        };

    private static Tensor<float> Random(Random rng, int[] shape, bool grad)
    {
        var n = shape.Aggregate(1, (a, b) => a * b);
        var d = new float[n];
        for (var i = 0; i < n; i++)
            d[i] = (float)(rng.NextDouble() - 0.5);
        return new Tensor<float>(shape, d, grad);
    }

    private static void TimeOp(string what, int reps, Func<Func<Tape<float>, Tensor<float>>> make)
    {
        var op = make();
        double fwd = double.MaxValue, bwd = double.MaxValue;
        for (var r = 0; r < reps + 3; r++)
        {
            using var tape = new Tape<float> { RecycleBuffers = true };
            var sw = Stopwatch.StartNew();
            var y = op(tape);
            var t1 = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            tape.Backward(y);
            var t2 = sw.Elapsed.TotalMilliseconds;
            if (r >= 3)
            {
                fwd = Math.Min(fwd, t1);
                bwd = Math.Min(bwd, t2);
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what,-45} forward {fwd,7:F3} ms  backward {bwd,7:F3} ms"));
    }
}
