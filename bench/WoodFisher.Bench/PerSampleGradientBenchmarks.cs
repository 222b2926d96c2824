using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using BenchmarkDotNet.Attributes;
using WoodFisher.Models;
using WoodFisher.Models.Autograd;
using WoodFisher.Models.Training;

namespace WoodFisher.Bench;

/// <summary>
/// Question: how much faster are per-sample gradients of mlp:784-300-100-10 (weights, d = 266,200) over 1,000 samples in
/// one batched backward pass (BatchGrad) than a loop of 1,000 batch-size-1 backward passes? Plus one SGD step on a
/// 128-batch (× 469 ≈ one Fashion-MNIST epoch). G itself is 1,000 × 266,200 floats = 1.06 GB, so both variants are bound
/// by memory traffic: the batched pass writes G once (streaming stores), the loop also allocates, fills and copies a
/// 1 MB gradient per sample, which stays cache-resident between samples; the ratio therefore depends on the memory system
/// and on GC behaviour more than on arithmetic. For LeNet-5 both variants are dominated by the same per-sample convolution
/// products, so the batched pass only saves the per-pass overheads.
/// Run: <c>dotnet run -c Release --project bench/WoodFisher.Bench -- --filter '*PerSample*' --job short</c>.
/// </summary>
[MemoryDiagnoser]
public class PerSampleGradientBenchmarks
{
    private const int Samples = 1000;
    private int _per;
    private IModel<float> _model = null!;
    private ParameterSelection<float> _selection = null!;
    private float[] _x = null!;
    private int[] _y = null!;
    private float[] _g = null!;
    private Sgd<float> _sgd = null!;

    /// <summary>The model: the MLP of the question, and LeNet-5 (1×28×28, d = 61,470) where compute weighs more.</summary>
    [Params("mlp:784-300-100-10", "lenet5")]
    public string Spec { get; set; } = "mlp:784-300-100-10";

    /// <summary>Random inputs in [0, 1) and labels; G preallocated and touched once.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _model = ModelFactory.Create(Spec, seed: 0);
        _per = _model.InputShape.Aggregate(1, (a, b) => a * b);
        _selection = ParameterSelection<float>.Prunable(_model);
        var rng = new Random(1);
        _x = new float[Samples * _per];
        for (var i = 0; i < _x.Length; i++)
            _x[i] = (float)rng.NextDouble();
        _y = new int[Samples];
        for (var i = 0; i < Samples; i++)
            _y[i] = rng.Next(10);
        _g = new float[(long)Samples * _selection.Dimension];
        Array.Fill(_g, 1f);
        _sgd = new Sgd<float>(_model.Parameters, 0.9);
    }

    /// <summary>One batched backward per 256-sample chunk, rows written by BatchGrad.</summary>
    [Benchmark(Baseline = true)]
    public int BatchedPass() => PerSampleGradients.Compute(_model, _x, _y, null, Samples, _selection, 1, _g);

    /// <summary>1,000 forward/backward passes of batch size 1, each gradient copied into its row.</summary>
    [Benchmark]
    public int LoopOfSingleSampleBackwards()
    {
        var d = _selection.Dimension;
        for (var n = 0; n < Samples; n++)
        {
            var tape = new Tape<float>();
            var x = Tensor<float>.FromFloats([1, .. _model.InputShape], _x.AsSpan(n * _per, _per));
            var loss = Ops.SoftmaxCrossEntropy(tape, _model.Forward(tape, x), _y.AsSpan(n, 1));
            tape.Backward(loss);
            foreach (var p in _selection.Parameters)
                tape.Grad(p).CopyTo(_g.AsSpan(n * d + _selection.OffsetOf(p), p.Length));
        }
        return Samples;
    }

    /// <summary>
    /// The floor both variants share: writing G once (1,000 rows of d floats, rows spread over the cores) with the same
    /// streaming stores and one fence per row as the batched pass, and nothing else. Neither variant can beat it while G is
    /// materialised.
    /// </summary>
    [Benchmark]
    public unsafe int WriteGOnly()
    {
        var d = _selection.Dimension;
        fixed (float* p0 = _g)
        {
            var ip = (nint)p0;
            Parallel.For(0, Samples, r =>
            {
                var p = (float*)ip + ((long)r * d);
                var w = Vector256<float>.Count;
                var v = Vector256.Create(0.5f);
                var i = 0;
                while (i < d && ((nint)(p + i) & 31) != 0)
                    p[i++] = 0.5f;
                for (; i + w <= d; i += w)
                    Vector256.StoreAlignedNonTemporal(v, p + i);
                for (; i < d; i++)
                    p[i] = 0.5f;
                Sse.StoreFence();
            });
        }
        return Samples;
    }

    /// <summary>One SGD step (forward, backward, momentum update) on a batch of 128; ×469 ≈ one epoch of 60,000 images.</summary>
    [Benchmark]
    public float TrainingStep128()
    {
        var tape = new Tape<float>();
        var x = Tensor<float>.FromFloats([128, .. _model.InputShape], _x.AsSpan(0, 128 * _per));
        var loss = Ops.SoftmaxCrossEntropy(tape, _model.Forward(tape, x), _y.AsSpan(0, 128));
        tape.Backward(loss);
        _sgd.Step(tape, 1e-6);
        return loss.Data[0];
    }
}
