using System.Text;

namespace WoodFisher.Distributed;

/// <summary>
/// How ranks fail together. A step that runs on every rank without collectives in the middle (checking inputs,
/// reading a slab, building blocks) is wrapped in <see cref="Agree{T}"/>: each rank runs it, then one all-reduce tells
/// every rank whether any failed; if one did, the lowest failing rank broadcasts its message and every rank throws the
/// same <see cref="RankFailedException"/>, so all stop with one message and no rank waits forever in a later
/// collective. A failure the ranks cannot meet to agree on (a killed process) is the launcher's to end
/// (<c>mpirun</c> ends every rank when one dies); code that fails while others wait inside a collective calls
/// <see cref="ICommunicator.Abort"/>.
/// </summary>
public static class RankFailure
{
    /// <summary>Runs <paramref name="step"/> on this rank and agrees with the others on its outcome (one all-reduce of a long).</summary>
    /// <param name="comm">The ranks.</param>
    /// <param name="step">Local work: it must not call collectives (except nested <see cref="Agree{T}"/>s, which every rank reaches).</param>
    /// <param name="describe">The message and exit code of a local failure; null = the exception's message and code 1.</param>
    /// <exception cref="RankFailedException">This or another rank failed.</exception>
    public static T Agree<T>(ICommunicator comm, Func<T> step, Func<Exception, (string Message, int Code)>? describe = null)
    {
        ArgumentNullException.ThrowIfNull(comm);
        ArgumentNullException.ThrowIfNull(step);
        T result = default!;
        Exception? failure = null;
        try
        {
            result = step();
        }
        catch (RankFailedException)
        {
            // A nested agreement already made every rank throw this.
            throw;
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        Check(comm, failure, describe);
        return result;
    }

    /// <summary>Runs <paramref name="step"/> on this rank and agrees with the others on its outcome.</summary>
    /// <exception cref="RankFailedException">This or another rank failed.</exception>
    public static void Agree(ICommunicator comm, Action step, Func<Exception, (string Message, int Code)>? describe = null)
    {
        ArgumentNullException.ThrowIfNull(step);
        Agree(comm, () =>
        {
            step();
            return 0;
        }, describe);
    }

    /// <summary>
    /// Agrees on <paramref name="failure"/> (null = this rank succeeded): returns when no rank failed, else throws on
    /// every rank the message of the lowest failing rank.
    /// </summary>
    /// <exception cref="RankFailedException">This or another rank failed.</exception>
    public static void Check(ICommunicator comm, Exception? failure, Func<Exception, (string Message, int Code)>? describe = null)
    {
        ArgumentNullException.ThrowIfNull(comm);
        Span<long> first = [failure is null ? long.MaxValue : comm.Rank];
        comm.AllReduce(first, ReduceOperation.Min);
        if (first[0] == long.MaxValue)
        {
            return;
        }

        var root = (int)first[0];
        var (message, code) = failure is null ? ("", 0) : describe?.Invoke(failure) ?? (failure.Message, 1);
        var bytes = comm.Rank == root ? Encoding.UTF8.GetBytes(message) : [];
        Span<long> header = [code, bytes.Length];
        comm.Broadcast(header, root);
        if (comm.Rank != root)
        {
            bytes = new byte[header[1]];
        }

        comm.Broadcast(bytes, root);
        throw new RankFailedException(root, comm.Size, Encoding.UTF8.GetString(bytes), (int)header[0], comm.Rank == root ? failure : null);
    }
}

/// <summary>A rank failed in a step every rank agreed on (<see cref="RankFailure"/>); thrown on every rank.</summary>
/// <param name="failedRank">The lowest rank that failed.</param>
/// <param name="ranks">Number of ranks.</param>
/// <param name="reason">That rank's message.</param>
/// <param name="code">The exit code that rank chose.</param>
/// <param name="inner">The failure itself, on the rank where it happened.</param>
public sealed class RankFailedException(int failedRank, int ranks, string reason, int code, Exception? inner = null)
    : Exception($"rank {failedRank} of {ranks}: {reason}", inner)
{
    /// <summary>The lowest rank that failed.</summary>
    public int FailedRank { get; } = failedRank;

    /// <summary>Number of ranks.</summary>
    public int Ranks { get; } = ranks;

    /// <summary>That rank's message.</summary>
    public string Reason { get; } = reason;

    /// <summary>The exit code the failing rank chose (e.g. 2 for a usage error, 1 otherwise).</summary>
    public int Code { get; } = code;
}
