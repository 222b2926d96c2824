using System.Numerics;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models;

/// <summary>
/// Per-sample (or per-mini-batch) gradients in one batched backward pass per chunk, as BackPACK's BatchGrad: with the loss
/// summed over the chunk, δₙ = ∂ℓₙ/∂(layer output) is sample n's own, so row n of G is, for a Linear layer, vec(δₙ aₙᵀ)
/// (index o·in + i) then δₙ for its bias; for Conv2d, vec(δₙ[O, L]·unfold(aₙ)ᵀ[L, C·kh·kw]). The model runs in eval mode
/// (BatchNorm with running statistics), and is restored to its mode afterwards.
/// </summary>
public static class PerSampleGradients
{
    /// <summary>
    /// Writes rows: row r = (1/B)·Σ_{n = rB}^{rB+B−1} ∇θ ℓ(x_{idx[n]}, y_{idx[n]}) over the selected
    /// parameters (ℓ = softmax cross-entropy), for <c>count/groupSize</c> full groups (a trailing partial group is dropped).
    /// </summary>
    /// <param name="model">The model (any element type).</param>
    /// <param name="x">Inputs [samples, …InputShape] as float32, row-major.</param>
    /// <param name="labels">Class labels [samples].</param>
    /// <param name="indices">Which samples, in order; null for 0..count−1.</param>
    /// <param name="count">Number of samples to use.</param>
    /// <param name="selection">Coordinates of a row (Linear/Conv2d weights and biases only).</param>
    /// <param name="groupSize">B ≥ 1: rows are means over groups of B consecutive samples.</param>
    /// <param name="output">Receives the rows, [count/B, d] row-major.</param>
    /// <param name="chunkSamples">Samples per forward/backward (bounds activation memory); rounded down to a multiple of B.</param>
    /// <returns>The number of rows written.</returns>
    public static unsafe int Compute<T>(IModel<T> model, ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int[]? indices, int count,
        ParameterSelection<T> selection, int groupSize, Span<T> output, int chunkSamples = 256)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(selection);
        ArgumentOutOfRangeException.ThrowIfLessThan(groupSize, 1);
        foreach (var p in selection.Parameters)
        {
            if (!p.IsPrunable && p.WeightOfLayer is null)
                throw new NotSupportedException($"Per-sample gradients cover Linear/Conv2d weights and biases; '{p.Name}' is neither.");
        }
        var rows = count / groupSize;
        var d = selection.Dimension;
        if ((long)rows * d > output.Length)
            throw new ArgumentException($"Output holds {output.Length} values; {rows} rows × {d} needed.", nameof(output));
        var chunk = Math.Max(groupSize, chunkSamples / groupSize * groupSize);
        var collector = new PerSampleCollector<T>(selection, groupSize);
        fixed (T* po = output)
        {
            var at = (nint)po;
            ForEachChunk(model, x, labels, indices, rows * groupSize, chunk, collector, (start, _, backward) =>
            {
                collector.Rows = (T*)at + ((long)start / groupSize * d);
                backward();
                collector.Rows = null;
            });
        }
        return rows;
    }

    /// <summary>
    /// The per-sample gradients of <paramref name="count"/> samples (<paramref name="indices"/> as in
    /// <see cref="Compute{T}(IModel{T}, ReadOnlySpan{float}, ReadOnlySpan{int}, int[], int, ParameterSelection{T}, int, Span{T}, int)"/>)
    /// as factors: for each selected Linear weight the layer inputs aₙ and output gradients δₙ (row n = δₙaₙᵀ), for its
    /// bias δₙ. Null when a selected parameter is not a Linear weight or bias (a Conv2d's per-sample gradient is a sum of
    /// outer products, not one).
    /// </summary>
    public static LinearGradientFactors? ComputeFactors(IModel<float> model, ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int[]? indices, int count,
        ParameterSelection<float> selection, int chunkSamples = 256)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(selection);
        var collector = new LinearGradientFactors.Collector(selection, count);
        ForEachChunk(model, x, labels, indices, count, Math.Max(1, chunkSamples), collector, (start, _, backward) =>
        {
            collector.Start = start;
            backward();
        });
        return collector.Finish();
    }

    /// <summary>
    /// Forward and backward over <paramref name="samples"/> samples in chunks, in eval mode, with <paramref name="observer"/>
    /// on the tape; <paramref name="around"/>(start, n, backward) runs each chunk's backward pass.
    /// </summary>
    private static void ForEachChunk<T>(IModel<T> model, ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int[]? indices, int samples, int chunk,
        IBackwardObserver<T> observer, Action<int, int, Action> around)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var was = model.Training;
        model.Training = false;
        try
        {
            var lab = new int[chunk];
            for (var start = 0; start < samples; start += chunk)
            {
                var n = Math.Min(chunk, samples - start);
                Tensor<T> xb;
                if (indices is null)
                {
                    xb = Batching.Slice(model, x, start, n);
                    labels.Slice(start, n).CopyTo(lab);
                }
                else
                {
                    xb = Batching.Gather(model, x, indices.AsSpan(start, n));
                    for (var i = 0; i < n; i++)
                        lab[i] = labels[indices[start + i]];
                }
                using var tape = new Tape<T> { Observer = observer, ObserverOnly = true, RecycleBuffers = true };
                var logits = model.Forward(tape, xb);
                var loss = Ops.SoftmaxCrossEntropy(tape, logits, lab.AsSpan(0, n), T.One);
                around(start, n, () => tape.Backward(loss));
            }
        }
        finally
        {
            model.Training = was;
        }
    }

    /// <summary>Per-sample gradients of the first <paramref name="count"/> samples as a new [count/B, d] array.</summary>
    public static T[] Compute<T>(IModel<T> model, ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int count,
        ParameterSelection<T> selection, int groupSize = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var r = new T[(long)(count / groupSize) * selection.Dimension];
        Compute(model, x, labels, null, count, selection, groupSize, r);
        return r;
    }
}
