using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace WoodFisher.Distributed;

/// <summary>Element-wise reduction of <see cref="ICommunicator.AllReduce(Span{long}, ReduceOperation)"/>.</summary>
public enum ReduceOperation
{
    /// <summary>Sum over ranks.</summary>
    Sum,

    /// <summary>Minimum over ranks.</summary>
    Min,

    /// <summary>Maximum over ranks.</summary>
    Max,
}

/// <summary>
/// The few collectives distributed pruning needs, over ranks 0 … <see cref="Size"/> − 1 (MPI's vocabulary). Every rank
/// calls the same collectives in the same order with matching arguments; a collective returns on a rank once that
/// rank's part is done. Implementations: MPI (<c>WoodFisher.Distributed.Mpi</c>), threads in one process
/// (<see cref="InProcessCommunicator"/>) and a single rank (<see cref="SingleRankCommunicator"/>).
/// Byte counts are 64-bit; implementations split what their transport cannot send at once.
/// </summary>
public interface ICommunicator : IDisposable
{
    /// <summary>This rank, 0 ≤ Rank &lt; Size.</summary>
    int Rank { get; }

    /// <summary>Number of ranks.</summary>
    int Size { get; }

    /// <summary>Short description for messages and reports, e.g. "Open MPI 4.1.4, 3 ranks".</summary>
    string Description { get; }

    /// <summary>Replaces <paramref name="values"/> on every rank by their element-wise reduction over ranks.</summary>
    void AllReduce(Span<long> values, ReduceOperation operation);

    /// <summary>Replaces <paramref name="values"/> on every rank by their element-wise reduction over ranks.</summary>
    void AllReduce(Span<double> values, ReduceOperation operation);

    /// <summary>Every rank's <paramref name="mine"/> (the same length on all ranks), concatenated in rank order into <paramref name="all"/> (Size × that length) on every rank.</summary>
    void AllGather(ReadOnlySpan<byte> mine, Span<byte> all);

    /// <summary>
    /// Every rank's <paramref name="mine"/> (rank r sends <paramref name="counts"/>[r] bytes), concatenated in rank order
    /// into <paramref name="all"/> (Σ counts bytes) on every rank. Every rank passes the same counts.
    /// </summary>
    void AllGatherV(ReadOnlySpan<byte> mine, Span<byte> all, ReadOnlySpan<long> counts);

    /// <summary>
    /// Every rank's <paramref name="mine"/> (rank r sends <paramref name="counts"/>[r] bytes), concatenated in rank order
    /// into <paramref name="all"/> (Σ counts bytes) on <paramref name="root"/>; other ranks pass an empty
    /// <paramref name="all"/>. Every rank passes the same counts.
    /// </summary>
    void GatherV(ReadOnlySpan<byte> mine, Span<byte> all, ReadOnlySpan<long> counts, int root);

    /// <summary>Copies <paramref name="data"/> of <paramref name="root"/> into <paramref name="data"/> (the same length) of every rank.</summary>
    void Broadcast(Span<byte> data, int root);

    /// <summary>Returns once every rank has entered.</summary>
    void Barrier();

    /// <summary>
    /// Ends every rank at once with exit code <paramref name="code"/> (MPI_Abort), for a failure the ranks cannot agree
    /// on by a collective (see <see cref="RankFailure"/>). Does not return.
    /// </summary>
    [DoesNotReturn]
    void Abort(int code);
}

/// <summary>Typed forms of the byte collectives of <see cref="ICommunicator"/>.</summary>
public static class Communicator
{
    /// <summary>Every rank's <paramref name="mine"/> (the same length everywhere) in rank order, on every rank.</summary>
    public static T[] AllGather<T>(this ICommunicator comm, ReadOnlySpan<T> mine)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(comm);
        var all = new T[mine.Length * comm.Size];
        comm.AllGather(MemoryMarshal.AsBytes(mine), MemoryMarshal.AsBytes(all.AsSpan()));
        return all;
    }

    /// <summary>
    /// Every rank's <paramref name="mine"/> (rank r holds <paramref name="counts"/>[r] elements) concatenated in rank
    /// order into <paramref name="all"/> on <paramref name="root"/> (other ranks pass an empty span).
    /// </summary>
    public static void GatherV<T>(this ICommunicator comm, ReadOnlySpan<T> mine, Span<T> all, ReadOnlySpan<long> counts, int root)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(comm);
        var size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        var bytes = new long[counts.Length];
        for (var r = 0; r < counts.Length; r++)
        {
            bytes[r] = counts[r] * size;
        }

        comm.GatherV(MemoryMarshal.AsBytes(mine), MemoryMarshal.AsBytes(all), bytes, root);
    }

    /// <summary>Copies <paramref name="data"/> of <paramref name="root"/> to every rank.</summary>
    public static void Broadcast<T>(this ICommunicator comm, Span<T> data, int root)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(comm);
        comm.Broadcast(MemoryMarshal.AsBytes(data), root);
    }

    /// <summary>The sum over ranks of one value.</summary>
    public static long Sum(this ICommunicator comm, long value)
    {
        ArgumentNullException.ThrowIfNull(comm);
        Span<long> v = [value];
        comm.AllReduce(v, ReduceOperation.Sum);
        return v[0];
    }

    /// <summary>The maximum over ranks of one value.</summary>
    public static double Max(this ICommunicator comm, double value)
    {
        ArgumentNullException.ThrowIfNull(comm);
        Span<double> v = [value];
        comm.AllReduce(v, ReduceOperation.Max);
        return v[0];
    }

    /// <summary>An all-gather of equal parts as <see cref="ICommunicator.AllGatherV"/> with every count the same.</summary>
    internal static void AllGatherAsV(ICommunicator comm, ReadOnlySpan<byte> mine, Span<byte> all)
    {
        if (all.Length != (long)mine.Length * comm.Size)
        {
            throw new ArgumentException($"AllGather of {mine.Length} bytes from {comm.Size} ranks needs {(long)mine.Length * comm.Size} bytes, got {all.Length}.", nameof(all));
        }

        var counts = new long[comm.Size];
        Array.Fill(counts, mine.Length);
        comm.AllGatherV(mine, all, counts);
    }

    /// <summary>Checks the arguments every <see cref="ICommunicator.GatherV"/> implementation shares; returns the total.</summary>
    internal static long CheckCounts(ICommunicator comm, int mine, ReadOnlySpan<long> counts, int root, int all, bool receives)
    {
        if (counts.Length != comm.Size)
        {
            throw new ArgumentException($"There are {counts.Length} counts for {comm.Size} ranks.", nameof(counts));
        }

        if (root < 0 || root >= comm.Size)
        {
            throw new ArgumentOutOfRangeException(nameof(root), root, $"The root must be a rank in [0, {comm.Size}).");
        }

        long total = 0;
        foreach (var c in counts)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(c, nameof(counts));
            total += c;
        }

        if (mine != counts[comm.Rank])
        {
            throw new ArgumentException($"Rank {comm.Rank} sends {mine} bytes but its count is {counts[comm.Rank]}.", nameof(counts));
        }

        if (receives && all != total)
        {
            throw new ArgumentException($"The receive buffer holds {all} bytes but the counts add up to {total}.", nameof(all));
        }

        return total;
    }
}
