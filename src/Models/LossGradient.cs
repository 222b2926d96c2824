using System.Numerics;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models;

/// <summary>
/// The gradient of the mean loss L(θ) = (1/N)·Σₙ ℓ(f(xₙ; θ), yₙ) (softmax cross-entropy) over a data array, restricted to a
/// <see cref="ParameterSelection{T}"/>. The model runs in eval mode.
/// </summary>
public static class LossGradient
{
    /// <summary>∇L [d] over the selection, for the first <paramref name="count"/> samples.</summary>
    public static T[] Mean<T>(IModel<T> model, ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int count,
        ParameterSelection<T> selection, int batchSize = 512)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var r = new T[selection.Dimension];
        OverBatches(model, x, labels, count, batchSize, false, null, tape =>
        {
            foreach (var p in selection.Parameters)
                Ops.Accumulate<T>(r.AsSpan(selection.OffsetOf(p), p.Length), tape.Grad(p));
        });
        return r;
    }

    /// <summary>
    /// Runs the mean loss (1/count)·Σ ℓ backward over batches of the first <paramref name="count"/> samples with the model
    /// in eval mode (restored afterwards): <paramref name="prepare"/> sees each tape before the forward pass (to set
    /// tangents), <paramref name="collect"/> after the backward pass.
    /// </summary>
    internal static void OverBatches<T>(IModel<T> model, ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int count, int batchSize,
        bool forwardOverReverse, Action<Tape<T>>? prepare, Action<Tape<T>> collect)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Batching.Check(model, x, labels, count);
        var was = model.Training;
        model.Training = false;
        try
        {
            var scale = T.One / T.CreateTruncating(count);
            for (var s = 0; s < count; s += batchSize)
            {
                var n = Math.Min(batchSize, count - s);
                using var tape = new Tape<T> { ForwardOverReverse = forwardOverReverse, RecycleBuffers = true };
                prepare?.Invoke(tape);
                var loss = Ops.SoftmaxCrossEntropy(tape, model.Forward(tape, Batching.Slice(model, x, s, n)), labels.Slice(s, n), scale);
                tape.Backward(loss);
                collect(tape);
            }
        }
        finally
        {
            model.Training = was;
        }
    }
}
