using System.Numerics;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models.Layers;

/// <summary>
/// BatchNorm2d with PyTorch names: <c>weight</c> (γ, ones), <c>bias</c> (β, zeros), <c>running_mean</c> (zeros),
/// <c>running_var</c> (ones), <c>num_batches_tracked</c> (a scalar, shape [], counted in float so PyTorch can load the state
/// dict strictly); momentum 0.1, ε = 1e-5. Batch statistics in training mode, running ones in eval mode.
/// </summary>
public sealed class BatchNorm2d<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the layer for <paramref name="channels"/> channels.</summary>
    public BatchNorm2d(int channels)
    {
        Weight = new Parameter<T>("weight", [channels], false);
        Weight.Data.AsSpan().Fill(T.One);
        Bias = new Parameter<T>("bias", [channels], false);
        RunningMean = new Tensor<T>([channels]);
        RunningVar = new Tensor<T>([channels]);
        RunningVar.Data.AsSpan().Fill(T.One);
        NumBatchesTracked = new Tensor<T>([]);
    }

    /// <summary>Training batches seen (shape [], one element).</summary>
    public Tensor<T> NumBatchesTracked { get; }

    /// <summary>γ [c].</summary>
    public Parameter<T> Weight { get; }

    /// <summary>β [c].</summary>
    public Parameter<T> Bias { get; }

    /// <summary>Running mean [c].</summary>
    public Tensor<T> RunningMean { get; }

    /// <summary>Running (unbiased) variance [c].</summary>
    public Tensor<T> RunningVar { get; }

    /// <inheritdoc/>
    public override IEnumerable<(string Name, Parameter<T> Parameter)> LocalParameters => [("weight", Weight), ("bias", Bias)];

    /// <inheritdoc/>
    public override IEnumerable<(string Name, Tensor<T> Buffer)> LocalBuffers =>
        [("running_mean", RunningMean), ("running_var", RunningVar), ("num_batches_tracked", NumBatchesTracked)];

    /// <inheritdoc/>
    public override Tensor<T> Forward(Tape<T> tape, Tensor<T> x)
    {
        if (!Training)
            return Ops.BatchNorm2d(tape, x, Weight, Bias, RunningMean, RunningVar, false);
        lock (RunningMean)
        {
            NumBatchesTracked.Data[0] += T.One;
            return Ops.BatchNorm2d(tape, x, Weight, Bias, RunningMean, RunningVar, true);
        }
    }
}
