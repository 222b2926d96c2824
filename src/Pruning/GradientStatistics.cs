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
    /// <summary>Resets <paramref name="source"/> and reads it to the end in chunks of <paramref name="chunkRows"/> rows.</summary>
    public static GradientStatistics Compute(IGradientSource source, int chunkRows = 256)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkRows, 1);
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
            {
                var row = buffer.AsSpan(r * d, d);
                for (var i = 0; i < d; i++)
                {
                    double g = row[i];
                    sum[i] += g;
                    sq[i] += g * g;
                }
            }

            rows += got;
        }

        if (rows > 0)
        {
            for (var i = 0; i < d; i++)
            {
                sum[i] /= rows;
            }
        }

        return new GradientStatistics(rows, sum, sq);
    }
}
