using WoodFisher.Kernels;
using WoodFisher.Models;

namespace WoodFisher.Pruning;

/// <summary>
/// Gradient rows held in memory (m × d float32, row-major) as an <see cref="IGradientSource"/>, so several estimates
/// (one per damping λ of a search) are built from one pass of gradient computation. <see cref="Rows"/> gives a
/// source over a contiguous range of rows without copying.
/// </summary>
public sealed class GradientMatrix : IGradientSource
{
    private readonly float[] _rows;
    private readonly int _first;
    private int _next;

    private GradientMatrix(float[] rows, int dimension, int first, int count, IReadOnlyList<int> segments)
    {
        _rows = rows;
        Dimension = dimension;
        _first = first;
        RowCount = count;
        Segments = segments;
    }

    /// <inheritdoc/>
    public int Dimension { get; }

    /// <summary>Rows m.</summary>
    public int RowCount { get; }

    /// <inheritdoc/>
    public long Count => RowCount;

    /// <inheritdoc/>
    public IReadOnlyList<int> Segments { get; }

    /// <summary>Bytes needed to hold <paramref name="rows"/> rows of <paramref name="dimension"/> float32 values.</summary>
    public static long BytesFor(long rows, int dimension) => MemoryBudget.Product(rows, dimension, sizeof(float));

    /// <summary>
    /// Reads every row of <paramref name="source"/> (from its start) into memory. Row r of the source lands at row
    /// <paramref name="order"/>[r] when an order is given (a permutation of the rows, e.g. to gather held-out rows at the end).
    /// </summary>
    /// <exception cref="InsufficientMemoryException">m × d float32 values do not fit the <see cref="MemoryBudget"/>.</exception>
    /// <exception cref="ArgumentException">The source's row count is unknown, or the order is not a permutation of it.</exception>
    public static GradientMatrix Read(IGradientSource source, ReadOnlySpan<int> order = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.Count < 0 || source.Count > int.MaxValue)
        {
            throw new ArgumentException($"Holding gradients in memory needs a known row count below 2³¹; the source reports {source.Count}.", nameof(source));
        }

        var m = (int)source.Count;
        var d = source.Dimension;
        if (!order.IsEmpty && (order.Length != m || !IsPermutation(order)))
        {
            throw new ArgumentException($"The row order must be a permutation of the source's {m} rows.", nameof(order));
        }

        var bytes = BytesFor(m, d);
        if (bytes / sizeof(float) > Array.MaxLength)
        {
            throw new InsufficientMemoryException($"{m} gradient rows of d = {d} exceed one array ({Array.MaxLength} values); give a fixed damping (the rows then stream) or fewer samples.");
        }

        MemoryBudget.Require(bytes, $"{m} gradient rows of d = {d} held for the damping search", "give a fixed damping (the rows then stream) or fewer samples");
        var rows = new float[bytes / sizeof(float)];
        var chunk = (int)Math.Clamp(WoodFisherCurvature.MaxChunkElements / d, 1, Math.Max(1, m));
        var buffer = order.IsEmpty ? null : new float[(long)chunk * d];
        source.Reset();
        var read = 0;
        while (read < m)
        {
            var got = buffer is null ? source.Read(rows.AsSpan((int)((long)read * d)), Math.Min(chunk, m - read)) : source.Read(buffer, Math.Min(chunk, m - read));
            if (got == 0)
            {
                throw new InvalidDataException($"The gradient source ended after {read} of the {m} rows it reported.");
            }

            if (buffer is not null)
            {
                for (var r = 0; r < got; r++)
                {
                    buffer.AsSpan(r * d, d).CopyTo(rows.AsSpan((int)((long)order[read + r] * d), d));
                }
            }

            read += got;
        }

        return new GradientMatrix(rows, d, 0, m, source.Segments.ToArray());
    }

    /// <summary>A source over rows [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) of this one (no copy).</summary>
    public GradientMatrix Rows(int start, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(start + (long)count, RowCount);
        return new GradientMatrix(_rows, Dimension, _first + start, count, Segments);
    }

    /// <summary>Row r (length d).</summary>
    public ReadOnlySpan<float> Row(int r)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(r);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(r, RowCount);
        return _rows.AsSpan((int)((long)(_first + r) * Dimension), Dimension);
    }

    /// <summary>The mean row ḡ = (1/m)Σ gᵣ (length d).</summary>
    public double[] Mean()
    {
        var mean = new double[Dimension];
        for (var r = 0; r < RowCount; r++)
        {
            var row = Row(r);
            for (var i = 0; i < mean.Length; i++)
            {
                mean[i] += row[i];
            }
        }

        for (var i = 0; i < mean.Length && RowCount > 0; i++)
        {
            mean[i] /= RowCount;
        }

        return mean;
    }

    /// <inheritdoc/>
    public int Read(Span<float> buffer, int maxRows)
    {
        var n = Math.Min(maxRows, RowCount - _next);
        if (n <= 0)
        {
            return 0;
        }

        _rows.AsSpan((int)((long)(_first + _next) * Dimension), n * Dimension).CopyTo(buffer);
        _next += n;
        return n;
    }

    /// <inheritdoc/>
    public void Reset() => _next = 0;

    private static bool IsPermutation(ReadOnlySpan<int> order)
    {
        var seen = new bool[order.Length];
        foreach (var r in order)
        {
            if (r < 0 || r >= seen.Length || seen[r])
            {
                return false;
            }

            seen[r] = true;
        }

        return true;
    }
}
