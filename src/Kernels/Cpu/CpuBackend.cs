using System.Numerics;
using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels;

/// <summary>
/// The SIMD CPU implementation of <see cref="ICurvatureBackend"/>: blocks in managed arrays (float32 or float64),
/// Vector512 or Vector256 FMA kernels chosen at run time, parallel over blocks (and inside a block's matrix products
/// when there are fewer blocks than cores).
/// </summary>
public sealed class CpuBackend : ICurvatureBackend
{
    /// <summary>Largest rank-k panel (gradients folded in per matrix–matrix step).</summary>
    internal const int MaxPanel = 96;

    /// <inheritdoc />
    public string Name => "cpu-" + Gemm.PathName;

    /// <inheritdoc />
    public IBlockStorage Allocate(BlockLayout layout, Precision precision)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return precision switch
        {
            Precision.Float32 => new CpuBlockStorage<float>(layout, precision),
            Precision.Float64 => new CpuBlockStorage<double>(layout, precision),
            _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "Unknown precision."),
        };
    }

    /// <inheritdoc />
    public void SetScaledIdentity(IBlockStorage storage, double value) => Own(storage).SetScaledIdentity(value);

    /// <inheritdoc />
    public void Write(IBlockStorage storage, ReadOnlySpan<double> blocks)
    {
        var s = Own(storage);
        CheckLength(blocks.Length, s.Layout.SquareLength, nameof(blocks));
        s.Write(blocks);
    }

    /// <inheritdoc />
    public void Read(IBlockStorage storage, Span<double> blocks)
    {
        var s = Own(storage);
        CheckLength(blocks.Length, s.Layout.SquareLength, nameof(blocks));
        s.Read(blocks);
    }

    /// <inheritdoc />
    public void ReadBlock(IBlockStorage storage, int block, Span<double> destination)
    {
        var s = Own(storage);
        ArgumentOutOfRangeException.ThrowIfNegative(block);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(block, s.Layout.Count);
        var c = s.Layout.Size(block);
        CheckLength(destination.Length, (long)c * c, nameof(destination));
        s.ReadBlock(block, destination);
    }

    /// <inheritdoc />
    public void RankOneUpdates(IBlockStorage storage, ReadOnlySpan<double> gradients, int rows, double normalizer)
        => Update(storage, gradients, rows, normalizer, rankK: false);

    /// <inheritdoc />
    public void RankOneUpdates(IBlockStorage storage, ReadOnlySpan<float> gradients, int rows, double normalizer)
        => Update(storage, gradients, rows, normalizer, rankK: false);

    /// <inheritdoc />
    public void RankKUpdate(IBlockStorage storage, ReadOnlySpan<double> gradients, int rows, double normalizer)
        => Update(storage, gradients, rows, normalizer, rankK: true);

    /// <inheritdoc />
    public void RankKUpdate(IBlockStorage storage, ReadOnlySpan<float> gradients, int rows, double normalizer)
        => Update(storage, gradients, rows, normalizer, rankK: true);

    /// <inheritdoc />
    public void Diagonal(IBlockStorage storage, Span<double> diagonal)
    {
        var s = Own(storage);
        CheckLength(diagonal.Length, s.Layout.Dimension, nameof(diagonal));
        s.Diagonal(diagonal);
    }

    /// <inheritdoc />
    public void Multiply(IBlockStorage storage, ReadOnlySpan<double> vectors, Span<double> result, int count)
    {
        var s = Own(storage);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        CheckLength(vectors.Length, (long)count * s.Layout.Dimension, nameof(vectors));
        CheckLength(result.Length, (long)count * s.Layout.Dimension, nameof(result));
        var r = new double[result.Length];
        s.Multiply(vectors.ToArray(), r, count);
        r.CopyTo(result);
    }

    /// <inheritdoc />
    public void ObsUpdate(IBlockStorage storage, Span<double> weights, ReadOnlySpan<bool> remove)
    {
        var s = Own(storage);
        JointObsUpdate.Apply(s.Layout, weights, remove, s, s.Precision);
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private static CpuBlockStorage Own(IBlockStorage storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        return storage as CpuBlockStorage
            ?? throw new ArgumentException($"Storage of type {storage.GetType().Name} was not allocated by the CPU backend.", nameof(storage));
    }

    private static void CheckLength(long actual, long expected, string name)
    {
        if (actual != expected)
        {
            throw new ArgumentException($"Expected {expected} elements, got {actual}.", name);
        }
    }

    private static unsafe void Update<TSrc>(IBlockStorage storage, ReadOnlySpan<TSrc> gradients, int rows, double normalizer, bool rankK)
        where TSrc : unmanaged, IFloatingPointIeee754<TSrc>
    {
        var s = Own(storage);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        CheckLength(gradients.Length, (long)rows * s.Layout.Dimension, nameof(gradients));
        if (!(normalizer > 0) || !double.IsFinite(normalizer))
        {
            throw new ArgumentOutOfRangeException(nameof(normalizer), normalizer, "Normalizer N must be positive and finite.");
        }

        // Spans cannot enter the parallel block lambdas, so the rows stay pinned for the call and go in by address
        // (float32 rows are read as they are: no widened copy of G).
        fixed (TSrc* p = gradients)
        {
            var g = new PinnedRows<TSrc>(p, gradients.Length);
            if (rankK)
            {
                s.RankKUpdate(g, rows, normalizer);
            }
            else
            {
                s.RankOneUpdates(g, rows, normalizer);
            }
        }
    }
}
