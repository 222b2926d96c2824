using WoodFisher.Kernels;
using WoodFisher.Models;

namespace WoodFisher.Pruning;

/// <summary>
/// Full WoodFisher (<c>woodfisher:block=full</c>, c = d): the inverse of F̂ = λI + (1/N)Σₙ gₙgₙᵀ over all coordinates
/// at once, cross-layer terms included, as the official code's <c>woodfisher</c> pruner uses it, without a d × d matrix:
/// the m gradients are kept and every query goes through m × m systems (<see cref="FullWoodFisherInverse"/>). Its
/// <see cref="Layout"/> is one block of d, so the joint OBS update is exact over all pruned weights together.
/// </summary>
public sealed class FullWoodFisherCurvature : IInverseCurvature
{
    /// <summary>Wraps a built inverse.</summary>
    public FullWoodFisherCurvature(FullWoodFisherInverse inverse)
    {
        ArgumentNullException.ThrowIfNull(inverse);
        Inverse = inverse;
        Layout = BlockLayout.Create(inverse.Dimension, inverse.Dimension);
    }

    /// <summary>The matrix-free inverse.</summary>
    public FullWoodFisherInverse Inverse { get; }

    /// <inheritdoc />
    public int Dimension => Inverse.Dimension;

    /// <inheritdoc />
    public BlockLayout Layout { get; }

    /// <inheritdoc />
    public string Name => $"woodfisher(c=d={Dimension}, full, m={Inverse.Rows}, λ={Inverse.Damping:g3})";

    /// <inheritdoc />
    public long Bytes => Inverse.Bytes;

    /// <summary>
    /// Reads every row of <paramref name="source"/> (rows averaged in groups of <paramref name="miniBatch"/>, a trailing
    /// partial group over the rows it has) and factors the m × m system; N = <paramref name="normalizer"/> or m.
    /// </summary>
    /// <exception cref="InsufficientMemoryException">The m × d rows do not fit <see cref="MemoryBudget"/>.</exception>
    /// <exception cref="NonFiniteGradientException">A gradient entry is NaN or infinite.</exception>
    public static FullWoodFisherCurvature FromGradients(IGradientSource source, double damping, double? normalizer = null, int miniBatch = 1)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(miniBatch, 1);
        var d = source.Dimension;
        if (source.Count >= 0)
        {
            var m = (source.Count + miniBatch - 1) / miniBatch;
            MemoryBudget.Require(FullWoodFisherInverse.EstimateBytes(d, m), $"The full WoodFisher inverse (c = d = {d:N0}) keeps its m = {m:N0} gradients, which",
                "Use fewer gradient rows (--samples), a larger --minibatch, or blocks (--block C).");
        }

        var rows = new List<float[]>();
        var chunkRows = (int)Math.Max(1, WoodFisherCurvature.MaxChunkElements / d);
        var buffer = new float[(long)chunkRows * d];
        var sum = new double[miniBatch > 1 ? d : 0];
        var inGroup = 0;
        long read = 0;
        source.Reset();
        int got;
        while ((got = source.Read(buffer, chunkRows)) > 0)
        {
            for (var r = 0; r < got; r++, read++)
            {
                var row = buffer.AsSpan(r * d, d);
                for (var j = 0; j < d; j++)
                {
                    if (!float.IsFinite(row[j]))
                    {
                        throw new NonFiniteGradientException(read, j, row[j]);
                    }
                }

                if (miniBatch == 1)
                {
                    rows.Add(row.ToArray());
                    continue;
                }

                for (var j = 0; j < d; j++)
                {
                    sum[j] += row[j];
                }

                if (++inGroup == miniBatch)
                {
                    rows.Add(Average(sum, inGroup));
                    inGroup = 0;
                }
            }
        }

        if (inGroup > 0)
        {
            rows.Add(Average(sum, inGroup));
        }

        if (rows.Count == 0)
        {
            throw new InvalidOperationException("No gradients were read: the full WoodFisher inverse needs at least one gradient row.");
        }

        return new FullWoodFisherCurvature(FullWoodFisherInverse.Create([.. rows], d, damping, normalizer ?? rows.Count));
    }

    /// <inheritdoc />
    public double[] Diagonal() => Inverse.Diagonal();

    /// <inheritdoc />
    public double[] Multiply(ReadOnlySpan<double> v)
    {
        var r = new double[Dimension];
        Inverse.Multiply(v, r);
        return r;
    }

    /// <inheritdoc />
    public double[] SubMatrix(ReadOnlySpan<int> indices) => Inverse.SubMatrix(indices);

    /// <inheritdoc />
    public void ObsUpdate(Span<double> weights, ReadOnlySpan<bool> mask) => Inverse.ObsUpdate(weights, mask);

    private static float[] Average(double[] sum, int count)
    {
        var row = new float[sum.Length];
        for (var j = 0; j < sum.Length; j++)
        {
            row[j] = (float)(sum[j] / count);
        }

        Array.Clear(sum);
        return row;
    }
}
