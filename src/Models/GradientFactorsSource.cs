using WoodFisher.Kernels;

namespace WoodFisher.Models;

/// <summary>
/// Gradient rows held in memory as factors (<see cref="IGradientRowFactors"/>): a consumer that forms block Gram matrices
/// takes the factors themselves (<see cref="Factors"/>), any other reads the rows multiplied out, chunk by chunk.
/// </summary>
/// <param name="factors">The rows.</param>
/// <param name="segments">Lengths of the parameter segments, summing to d.</param>
public sealed class GradientFactorsSource(IGradientRowFactors factors, IReadOnlyList<int> segments) : IFactoredGradientSource
{
    private int _next;

    /// <inheritdoc/>
    public int Dimension => factors.Dimension;

    /// <inheritdoc/>
    public long Count => factors.Rows;

    /// <inheritdoc/>
    public IReadOnlyList<int> Segments => segments;

    /// <inheritdoc/>
    public int Read(Span<float> buffer, int maxRows)
    {
        var rows = Math.Min(maxRows, factors.Rows - _next);
        if (rows <= 0)
            return 0;
        factors.Gather(_next, rows, 0, factors.Dimension, buffer);
        _next += rows;
        return rows;
    }

    /// <inheritdoc/>
    public void Reset() => _next = 0;

    /// <inheritdoc/>
    public IGradientRowFactors Factors() => factors;

    /// <inheritdoc/>
    public long? FactorBytes => factors.Bytes;
}
