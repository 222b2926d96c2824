using System.Diagnostics.CodeAnalysis;

namespace WoodFisher.Distributed;

/// <summary>One rank alone: every collective is a copy. Distributed code run on it is the single-process run.</summary>
public sealed class SingleRankCommunicator : ICommunicator
{
    /// <inheritdoc/>
    public int Rank => 0;

    /// <inheritdoc/>
    public int Size => 1;

    /// <inheritdoc/>
    public string Description => "one process";

    /// <inheritdoc/>
    public void AllReduce(Span<long> values, ReduceOperation operation)
    {
    }

    /// <inheritdoc/>
    public void AllReduce(Span<double> values, ReduceOperation operation)
    {
    }

    /// <inheritdoc/>
    public void AllGather(ReadOnlySpan<byte> mine, Span<byte> all) => mine.CopyTo(all);

    /// <inheritdoc/>
    public void AllGatherV(ReadOnlySpan<byte> mine, Span<byte> all, ReadOnlySpan<long> counts)
    {
        Communicator.CheckCounts(this, mine.Length, counts, 0, all.Length, receives: true);
        mine.CopyTo(all);
    }

    /// <inheritdoc/>
    public void GatherV(ReadOnlySpan<byte> mine, Span<byte> all, ReadOnlySpan<long> counts, int root)
    {
        Communicator.CheckCounts(this, mine.Length, counts, root, all.Length, receives: true);
        mine.CopyTo(all);
    }

    /// <inheritdoc/>
    public void Broadcast(Span<byte> data, int root) => ArgumentOutOfRangeException.ThrowIfNotEqual(root, 0);

    /// <inheritdoc/>
    public void Barrier()
    {
    }

    /// <inheritdoc/>
    [DoesNotReturn]
    public void Abort(int code) => throw new RankAbortedException(0, code);

    /// <inheritdoc/>
    public void Dispose()
    {
    }
}
