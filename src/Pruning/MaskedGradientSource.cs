using WoodFisher.Kernels;
using WoodFisher.Models;

namespace WoodFisher.Pruning;

/// <summary>
/// The gradients of the surviving weights: every row of an inner source with the pruned coordinates
/// (mask false) set to zero. A Fisher built from these rows, F̂ = λI + (1/N)Σₙ g̃ₙg̃ₙᵀ, has the rows and columns of pruned
/// coordinates equal to λ·I, so its inverse on the survivors S is exactly (λI + G_Sᵀ G_S / N)⁻¹ — the Fisher of the
/// model with the pruned weights removed — and the pruned coordinates are decoupled from everything else. Scores of
/// survivors are then not polluted by the curvature of weights already at zero, and a joint update that keeps the pruned
/// coordinates in Q (with w = 0) leaves them at zero. Any estimator that takes an <see cref="IGradientSource"/> takes
/// this one: recompute steps, gradual pruning, tensor and any-architecture modes.
/// </summary>
public class MaskedGradientSource : IFactoredGradientSource
{
    private readonly IGradientSource _inner;
    private readonly int[] _pruned;

    /// <summary>
    /// The rows of <paramref name="inner"/> under <paramref name="mask"/>: <paramref name="inner"/> itself when nothing is
    /// pruned, else a masked source that reads columns directly (<see cref="IColumnGradientSource"/>) when the inner one does.
    /// </summary>
    /// <exception cref="ArgumentException">The mask length is not d.</exception>
    public static IGradientSource Over(IGradientSource inner, ReadOnlySpan<bool> mask)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (mask.Length == inner.Dimension && !mask.Contains(false))
        {
            return inner;
        }

        return inner is IColumnGradientSource columns ? new Columns(columns, mask) : new MaskedGradientSource(inner, mask);
    }

    /// <summary>Wraps <paramref name="inner"/>; <paramref name="mask"/> (length d, true = kept) is copied.</summary>
    /// <exception cref="ArgumentException">The mask length is not d.</exception>
    public MaskedGradientSource(IGradientSource inner, ReadOnlySpan<bool> mask)
    {
        _pruned = PrunedIndices(inner, mask);
        _inner = inner;
    }

    /// <summary>Pruned coordinates (zeroed in every row).</summary>
    public int PrunedCount => _pruned.Length;

    /// <inheritdoc/>
    public int Dimension => _inner.Dimension;

    /// <inheritdoc/>
    public long Count => _inner.Count;

    /// <inheritdoc/>
    public IReadOnlyList<int> Segments => _inner.Segments;

    /// <inheritdoc/>
    public int Read(Span<float> buffer, int maxRows)
    {
        var rows = _inner.Read(buffer, maxRows);
        Zero(buffer, rows, 0, _inner.Dimension);
        return rows;
    }

    /// <inheritdoc/>
    public void Reset() => _inner.Reset();

    /// <summary>The inner source's factors with the pruned coordinates zeroed as they are multiplied out; null without them.</summary>
    public IGradientRowFactors? Factors()
        => (_inner as IFactoredGradientSource)?.Factors() is { } factors ? (_pruned.Length == 0 ? factors : new MaskedFactors(this, factors)) : null;

    /// <inheritdoc/>
    public long? FactorBytes => (_inner as IFactoredGradientSource)?.FactorBytes;

    private sealed class MaskedFactors(MaskedGradientSource owner, IGradientRowFactors inner) : IGradientRowFactors
    {
        public int Rows => inner.Rows;

        public long Bytes => inner.Bytes;

        public int Dimension => inner.Dimension;

        public void Gather(int firstRow, int rows, long start, int count, Span<float> destination)
        {
            inner.Gather(firstRow, rows, start, count, destination);
            owner.Zero(destination, rows, (int)start, count);
        }

        // The inner factors skip their zero rows without multiplying them out (rows the mask zeroes are kept, as zeros).
        public int GatherNonZero(int firstRow, int rows, long start, int count, Span<float> destination)
        {
            var kept = inner.GatherNonZero(firstRow, rows, start, count, destination);
            owner.Zero(destination, kept, (int)start, count);
            return kept;
        }
    }

    /// <summary>Zeroes the pruned coordinates among columns [<paramref name="first"/>, + <paramref name="columns"/>) of <paramref name="rows"/> rows.</summary>
    private protected void Zero(Span<float> destination, int rows, int first, int columns)
    {
        var from = Array.BinarySearch(_pruned, first);
        from = from < 0 ? ~from : from;
        for (var i = from; i < _pruned.Length && _pruned[i] < first + columns; i++)
        {
            for (var r = 0; r < rows; r++)
            {
                destination[(r * columns) + _pruned[i] - first] = 0;
            }
        }
    }

    /// <summary>Zeroes the pruned coordinates (mask false) of a length-d vector in place, e.g. a mean gradient.</summary>
    public static void Apply(Span<double> vector, ReadOnlySpan<bool> mask)
    {
        if (vector.Length != mask.Length)
        {
            throw new ArgumentException($"The vector has {vector.Length} coordinates but the mask {mask.Length}.", nameof(mask));
        }

        for (var i = 0; i < vector.Length; i++)
        {
            if (!mask[i])
            {
                vector[i] = 0;
            }
        }
    }

    private static int[] PrunedIndices(IGradientSource inner, ReadOnlySpan<bool> mask)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (mask.Length != inner.Dimension)
        {
            throw new ArgumentException($"The mask has {mask.Length} entries but the gradient rows have d = {inner.Dimension}.", nameof(mask));
        }

        var pruned = new List<int>();
        for (var i = 0; i < mask.Length; i++)
        {
            if (!mask[i])
            {
                pruned.Add(i);
            }
        }

        return [.. pruned];
    }

    /// <summary>Over a source that reads columns directly: so does the masked one (a file stays streamable by column slabs).</summary>
    private sealed class Columns(IColumnGradientSource inner, ReadOnlySpan<bool> mask) : MaskedGradientSource(inner, mask), IColumnGradientSource
    {
        public void ReadColumns(long firstRow, int rows, int firstColumn, int columns, Span<float> destination)
        {
            inner.ReadColumns(firstRow, rows, firstColumn, columns, destination);
            Zero(destination, rows, firstColumn, columns);
        }
    }
}
