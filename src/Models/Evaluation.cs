using System.Numerics;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models;

/// <summary>Mean softmax cross-entropy and top-1 accuracy of a model over a data array.</summary>
/// <param name="Loss">(1/N)·Σₙ ℓₙ.</param>
/// <param name="Accuracy">Fraction of argmax(logits) = label, in [0, 1].</param>
public readonly record struct EvaluationResult(double Loss, double Accuracy);

/// <summary>Inference helpers: logits, loss and accuracy (eval mode, restored afterwards).</summary>
public static class Evaluation
{
    /// <summary>Logits [count, classes] for the first <paramref name="count"/> samples of x [samples, …InputShape].</summary>
    public static T[] Logits<T>(IModel<T> model, ReadOnlySpan<float> x, int count, int batchSize = 512)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var c = model.NumClasses;
        var r = new T[(long)count * c];
        var was = model.Training;
        model.Training = false;
        try
        {
            for (var s = 0; s < count; s += batchSize)
            {
                var n = Math.Min(batchSize, count - s);
                var z = model.Forward(new Tape<T>(), Batching.Slice(model, x, s, n));
                z.Data.CopyTo(r, (long)s * c);
            }
        }
        finally
        {
            model.Training = was;
        }
        return r;
    }

    /// <summary>Mean cross-entropy and accuracy over the first <paramref name="count"/> samples.</summary>
    public static EvaluationResult Evaluate<T>(IModel<T> model, ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int count, int batchSize = 512)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Batching.Check(model, x, labels, count);
        var z = Logits(model, x, count, batchSize);
        return FromLogits<T>(z, labels, count, model.NumClasses);
    }

    /// <summary>Mean cross-entropy and accuracy of logits [count, classes] (row-major) against the labels.</summary>
    public static EvaluationResult FromLogits<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, int count, int classes)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (count < 1 || classes < 1 || logits.Length < (long)count * classes || labels.Length < count)
            throw new ArgumentException($"Expected {count} rows of {classes} logits and {count} labels; got {logits.Length} logits and {labels.Length} labels.");
        var c = classes;
        var p = new T[c];
        double loss = 0;
        var correct = 0;
        for (var i = 0; i < count; i++)
        {
            var row = logits.Slice(i * c, c);
            var lse = Ops.SoftmaxRow<T>(row, p);
            loss += double.CreateTruncating(lse - row[labels[i]]);
            if (System.Numerics.Tensors.TensorPrimitives.IndexOfMax<T>(row) == labels[i])
                correct++;
        }
        return new EvaluationResult(loss / count, (double)correct / count);
    }
}
