using System.Numerics;
using WoodFisher.Kernels;
using WoodFisher.Models;

namespace WoodFisher.Pruning;

/// <summary>
/// One pass over an <see cref="IGradientSource"/>: row count N, the mean gradient ḡ = (1/N)Σₙ gₙ (the loss gradient
/// WoodTaylor needs when rows are per-sample gradients of a mean loss) and Σₙ gₙ² per coordinate (the diagonal Fisher).
/// </summary>
/// <param name="Rows">Number of rows read.</param>
/// <param name="Mean">ḡ (length d).</param>
/// <param name="SumOfSquares">Σₙ g_{n,q}² (length d).</param>
public sealed record GradientStatistics(long Rows, double[] Mean, double[] SumOfSquares)
{
    /// <summary>
    /// Resets <paramref name="source"/> and reads it to the end in chunks of <paramref name="chunkRows"/> rows, or, when it
    /// gives its rows as factors, sums windows of coordinates multiplied out from them over the cores: the same bits either
    /// way, since every coordinate adds its rows in row order (a window leaves out rows that are zero throughout it, which
    /// add nothing).
    /// </summary>
    public static GradientStatistics Compute(IGradientSource source, int chunkRows = 256)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkRows, 1);
        if (source is IFactoredGradientSource factored && factored.Factors() is { } factors)
            return FromFactors(factors);
        var d = source.Dimension;
        var sum = new double[d];
        var sq = new double[d];
        var buffer = new float[(long)chunkRows * d];
        long rows = 0;
        source.Reset();
        int got;
        while ((got = source.Read(buffer, chunkRows)) > 0)
        {
            for (var r = 0; r < got; r++)
                Accumulate(buffer.AsSpan(r * d, d), sum, sq);
            rows += got;
        }

        return Finish(rows, sum, sq);
    }

    private static GradientStatistics FromFactors(IGradientRowFactors factors)
    {
        var (m, d) = (factors.Rows, factors.Dimension);
        var sum = new double[d];
        var sq = new double[d];

        // About 4 MB of multiplied-out rows per window and core.
        var window = Math.Clamp((1 << 20) / Math.Max(1, m), 16, 4096);
        var windows = (int)((d + window - 1) / window);
        Parallel.For(0, windows, () => new float[(long)m * window], (w, _, buffer) =>
        {
            var start = w * window;
            var count = Math.Min(window, d - start);
            var rows = factors.GatherNonZero(0, m, start, count, buffer);
            for (var r = 0; r < rows; r++)
                Accumulate(buffer.AsSpan(r * count, count), sum.AsSpan(start, count), sq.AsSpan(start, count));
            return buffer;
        }, _ => { });
        return Finish(m, sum, sq);
    }

    private static GradientStatistics Finish(long rows, double[] sum, double[] sq)
    {
        if (rows > 0)
        {
            for (var i = 0; i < sum.Length; i++)
                sum[i] /= rows;
        }

        return new GradientStatistics(rows, sum, sq);
    }

    /// <summary>sum += g and squares += g·g per coordinate in float64, the product rounded before the sum (as scalar code does).</summary>
    private static void Accumulate(ReadOnlySpan<float> row, Span<double> sum, Span<double> squares)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var (w, h) = (Vector<float>.Count, Vector<double>.Count);
            for (; i + w <= row.Length; i += w)
            {
                Vector.Widen(new Vector<float>(row[i..]), out var lo, out var hi);
                (new Vector<double>(sum[i..]) + lo).CopyTo(sum[i..]);
                (new Vector<double>(sum[(i + h)..]) + hi).CopyTo(sum[(i + h)..]);
                (new Vector<double>(squares[i..]) + (lo * lo)).CopyTo(squares[i..]);
                (new Vector<double>(squares[(i + h)..]) + (hi * hi)).CopyTo(squares[(i + h)..]);
            }
        }

        for (; i < row.Length; i++)
        {
            double g = row[i];
            sum[i] += g;
            squares[i] += g * g;
        }
    }
}
