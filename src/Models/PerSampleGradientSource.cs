using WoodFisher.Kernels;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models;

/// <summary>
/// An <see cref="IGradientSource"/> over a data array: the per-sample (B = 1) or mini-batch-mean (B &gt; 1) gradients of the
/// softmax cross-entropy of <paramref name="count"/> samples — the first ones in order, or a seeded shuffle of all samples —
/// computed lazily chunk by chunk from the model's current weights, or all at once as factors. Segments are the selected
/// parameters' lengths.
/// </summary>
/// <param name="model">A float32 model (weights read at each <see cref="Read"/>).</param>
/// <param name="x">Inputs [samples, …InputShape], row-major.</param>
/// <param name="labels">Labels [samples].</param>
/// <param name="count">Samples M to use (rows = M / B).</param>
/// <param name="selection">Row coordinates; null for <see cref="ParameterSelection{T}.Prunable"/> weights only.</param>
/// <param name="groupSize">B, samples averaged per row.</param>
/// <param name="shuffleSeed">null: first M samples in order; otherwise M samples drawn without replacement by this seed.</param>
public sealed class PerSampleGradientSource(IModel<float> model, float[] x, int[] labels, int count,
    ParameterSelection<float>? selection = null, int groupSize = 1, int? shuffleSeed = null) : IFactoredGradientSource
{
    private readonly ParameterSelection<float> _selection = selection ?? ParameterSelection<float>.Prunable(model);
    private readonly int[]? _order = MakeOrder(labels.Length, count, shuffleSeed);
    private int _nextRow;

    /// <summary>The coordinate map (names, shapes, offsets) of each row.</summary>
    public ParameterSelection<float> Selection => _selection;

    /// <inheritdoc/>
    public int Dimension => _selection.Dimension;

    /// <inheritdoc/>
    public long Count => count / groupSize;

    /// <inheritdoc/>
    public IReadOnlyList<int> Segments => _selection.Segments;

    /// <inheritdoc/>
    public int Read(Span<float> buffer, int maxRows)
    {
        var rows = (int)Math.Min(maxRows, Count - _nextRow);
        if (rows <= 0)
            return 0;
        var start = _nextRow * groupSize;
        var idx = new int[rows * groupSize];
        for (var i = 0; i < idx.Length; i++)
            idx[i] = _order is null ? start + i : _order[start + i];
        PerSampleGradients.Compute(model, x, labels, idx, idx.Length, _selection, groupSize, buffer);
        _nextRow += rows;
        return rows;
    }

    /// <inheritdoc/>
    public void Reset() => _nextRow = 0;

    /// <summary>
    /// All rows as factors (<see cref="PerSampleGradients.ComputeFactors"/>): per-sample (B = 1) gradients of Linear
    /// weights and biases only; null otherwise.
    /// </summary>
    public long? FactorBytes
    {
        get
        {
            if (groupSize != 1)
                return null;
            long perRow = 0;
            foreach (var p in _selection.Parameters)
            {
                var weight = p.WeightOfLayer ?? p;
                if (weight.Shape.Length != 2)
                    return null;
                perRow += p == weight ? weight.Shape[0] + weight.Shape[1] : weight.Shape[0];
            }
            return perRow * Count * sizeof(float);
        }
    }

    /// <inheritdoc/>
    public IGradientRowFactors? Factors()
    {
        // Asked of the shapes first: a selection with a Conv2d parameter would otherwise cost a whole pass to find out.
        if (FactorBytes is null)
            return null;
        var rows = (int)Count;
        return PerSampleGradients.ComputeFactors(model, x, labels, _order is null ? null : _order[..rows], rows, _selection);
    }

    private static int[]? MakeOrder(int total, int count, int? seed)
    {
        if (count > total)
            throw new ArgumentOutOfRangeException(nameof(count), $"{count} samples requested; the data hold {total}.");
        if (seed is null)
            return null;
        var order = Enumerable.Range(0, total).ToArray();
        new Random(seed.Value).Shuffle(order);
        return order;
    }
}
