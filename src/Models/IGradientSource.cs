namespace WoodFisher.Models;

/// <summary>
/// A stream of gradient rows (per-sample or mini-batch averaged), d coordinates each, in parameter order.
/// The in-house autograd is one source; a .npy file written by another framework is another.
/// </summary>
public interface IGradientSource
{
    /// <summary>Coordinates per gradient row (d).</summary>
    int Dimension { get; }

    /// <summary>Rows this source yields in total, or -1 when unknown in advance.</summary>
    long Count { get; }

    /// <summary>Lengths of the parameter segments (layers) in order, summing to <see cref="Dimension"/>.</summary>
    IReadOnlyList<int> Segments { get; }

    /// <summary>
    /// Writes up to <paramref name="maxRows"/> rows into <paramref name="buffer"/> (row-major, at least maxRows × d)
    /// and returns how many were written; 0 once the source is exhausted.
    /// </summary>
    int Read(Span<float> buffer, int maxRows);

    /// <summary>Starts the stream again from its first row.</summary>
    void Reset();
}
