using WoodFisher.Models;

namespace WoodFisher.Distributed;

/// <summary>
/// The rows of a gradient source that yields whole rows (e.g. a model's per-sample gradients) restricted to the columns
/// [<c>start</c>, <c>start</c> + <c>columns</c>) of one rank's blocks, with that range's segment lengths. Whole rows are
/// read through a buffer of at most <see cref="BufferElements"/> floats (at least one row), so a rank holds its columns
/// and one buffer, never all of G.
/// </summary>
public sealed class ColumnRangeSource : IGradientSource
{
    /// <summary>Most floats of whole rows held at once (16 MiB).</summary>
    public const int BufferElements = 1 << 22;

    private readonly IGradientSource _inner;
    private readonly int _start;
    private float[] _rows = [];

    /// <summary>Restricts <paramref name="inner"/> to <paramref name="columns"/> columns from <paramref name="start"/>.</summary>
    /// <param name="inner">The whole rows.</param>
    /// <param name="start">First column.</param>
    /// <param name="columns">Columns (≥ 1).</param>
    /// <param name="segments">Segment lengths of the range, summing to <paramref name="columns"/>; null = one segment.</param>
    /// <exception cref="ArgumentException">The range does not lie in the rows, or the segments do not sum to it.</exception>
    public ColumnRangeSource(IGradientSource inner, int start, int columns, IReadOnlyList<int>? segments = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        if (start < 0 || start > inner.Dimension - columns)
        {
            throw new ArgumentException($"Columns [{start}, {(long)start + columns}) do not lie in rows of {inner.Dimension}.", nameof(start));
        }

        int[] segs = segments is null ? [columns] : [.. segments];
        if (segs.Any(s => s < 1) || segs.Sum(s => (long)s) != columns)
        {
            throw new ArgumentException($"Segment lengths must be positive and sum to the range's {columns} columns (got {string.Join(",", segs)}).", nameof(segments));
        }

        _inner = inner;
        _start = start;
        Dimension = columns;
        Segments = segs;
    }

    /// <inheritdoc/>
    public int Dimension { get; }

    /// <inheritdoc/>
    public long Count => _inner.Count;

    /// <inheritdoc/>
    public IReadOnlyList<int> Segments { get; }

    /// <inheritdoc/>
    public int Read(Span<float> buffer, int maxRows)
    {
        var d = _inner.Dimension;
        var perRead = Math.Max(1, Math.Min(maxRows, BufferElements / d));
        if (_rows.Length < (long)perRead * d)
        {
            _rows = new float[(long)perRead * d];
        }

        var done = 0;
        while (done < maxRows)
        {
            var n = _inner.Read(_rows, Math.Min(perRead, maxRows - done));
            if (n == 0)
            {
                break;
            }

            for (var r = 0; r < n; r++)
            {
                _rows.AsSpan((r * d) + _start, Dimension).CopyTo(buffer.Slice((done + r) * Dimension, Dimension));
            }

            done += n;
        }

        return done;
    }

    /// <inheritdoc/>
    public void Reset() => _inner.Reset();
}
