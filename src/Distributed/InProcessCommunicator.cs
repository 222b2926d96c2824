using System.Diagnostics.CodeAnalysis;
using System.Numerics;

namespace WoodFisher.Distributed;

/// <summary>
/// N ranks as N threads of one process, sharing memory: the communicator of unit tests and of trying distributed code
/// without MPI. <see cref="Run{T}(int, Func{ICommunicator, T})"/> starts the ranks and waits for all of them. Every
/// collective is two barriers: each rank posts its contribution, all read what they need, all leave together. A rank
/// that throws (or calls <see cref="Abort"/>) cancels the others' waits, and a rank that returns while another waits in
/// a collective is reported as a mismatch instead of hanging.
/// </summary>
public sealed class InProcessCommunicator : ICommunicator
{
    private readonly Shared _shared;

    private InProcessCommunicator(Shared shared, int rank)
    {
        _shared = shared;
        Rank = rank;
    }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size => _shared.Size;

    /// <inheritdoc/>
    public string Description => $"in-process, {Size} ranks";

    /// <summary>
    /// Runs <paramref name="body"/> on <paramref name="size"/> ranks (threads) and returns each rank's result in rank
    /// order.
    /// </summary>
    /// <exception cref="AggregateException">One or more ranks failed: the failures in rank order (ranks that only saw
    /// another rank fail, with <see cref="OperationCanceledException"/>, are left out).</exception>
    public static T[] Run<T>(int size, Func<ICommunicator, T> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        var shared = new Shared(size);
        var results = new T[size];
        var errors = new Exception?[size];
        var threads = new Thread[size];
        for (var r = 0; r < size; r++)
        {
            var rank = r;
            threads[r] = new Thread(() =>
            {
                try
                {
                    results[rank] = body(new InProcessCommunicator(shared, rank));
                }
                catch (Exception ex)
                {
                    errors[rank] = ex;
                    shared.Cancel.Cancel();
                }
                finally
                {
                    Interlocked.Increment(ref shared.Finished);
                }
            })
            { Name = $"rank {rank}", IsBackground = true };
            threads[r].Start();
        }

        foreach (var t in threads)
        {
            t.Join();
        }

        var failures = errors.Where(e => e is not null and not OperationCanceledException).Cast<Exception>().ToList();
        if (failures.Count > 0)
        {
            throw new AggregateException($"{failures.Count} of {size} ranks failed: {failures[0].Message}", failures);
        }

        return results;
    }

    /// <summary>Runs <paramref name="body"/> on <paramref name="size"/> ranks (threads) and waits for all.</summary>
    /// <exception cref="AggregateException">One or more ranks failed (see <see cref="Run{T}(int, Func{ICommunicator, T})"/>).</exception>
    public static void Run(int size, Action<ICommunicator> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        Run(size, comm =>
        {
            body(comm);
            return 0;
        });
    }

    /// <inheritdoc/>
    public void AllReduce(Span<long> values, ReduceOperation operation) => Reduce(values, operation);

    /// <inheritdoc/>
    public void AllReduce(Span<double> values, ReduceOperation operation) => Reduce(values, operation);

    private void Reduce<T>(Span<T> values, ReduceOperation operation)
        where T : INumber<T>
    {
        var all = Exchange(values.ToArray());
        for (var i = 0; i < values.Length; i++)
        {
            // Reduced in rank order on every rank, so all ranks get the same bits.
            var acc = ((T[])all[0])[i];
            for (var r = 1; r < Size; r++)
            {
                var v = ((T[])all[r])[i];
                acc = operation switch { ReduceOperation.Sum => acc + v, ReduceOperation.Min => T.Min(acc, v), _ => T.Max(acc, v) };
            }

            values[i] = acc;
        }

        Sync();
    }

    /// <inheritdoc/>
    public void AllGather(ReadOnlySpan<byte> mine, Span<byte> all) => Communicator.AllGatherAsV(this, mine, all);

    /// <inheritdoc/>
    public void AllGatherV(ReadOnlySpan<byte> mine, Span<byte> all, ReadOnlySpan<long> counts)
    {
        Communicator.CheckCounts(this, mine.Length, counts, 0, all.Length, receives: true);
        var parts = Exchange(mine.ToArray());
        var at = 0;
        for (var r = 0; r < Size; r++)
        {
            var part = (byte[])parts[r];
            if (part.Length != counts[r])
            {
                Sync();
                throw new InvalidOperationException($"Rank {r} sent {part.Length} bytes where rank {Rank} expects {counts[r]}.");
            }

            part.CopyTo(all[at..]);
            at += part.Length;
        }

        Sync();
    }

    /// <inheritdoc/>
    public void GatherV(ReadOnlySpan<byte> mine, Span<byte> all, ReadOnlySpan<long> counts, int root)
    {
        Communicator.CheckCounts(this, mine.Length, counts, root, all.Length, receives: Rank == root);
        var parts = Exchange(mine.ToArray());
        if (Rank == root)
        {
            var at = 0;
            for (var r = 0; r < Size; r++)
            {
                var part = (byte[])parts[r];
                part.CopyTo(all[at..]);
                at += part.Length;
            }
        }

        Sync();
    }

    /// <inheritdoc/>
    public void Broadcast(Span<byte> data, int root)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, Size);
        var parts = Exchange(Rank == root ? data.ToArray() : []);
        var sent = (byte[])parts[root];
        if (sent.Length != data.Length)
        {
            Sync();
            throw new ArgumentException($"The root broadcasts {sent.Length} bytes but rank {Rank} expects {data.Length}.", nameof(data));
        }

        sent.CopyTo(data);
        Sync();
    }

    /// <inheritdoc/>
    public void Barrier() => Sync();

    /// <inheritdoc/>
    [DoesNotReturn]
    public void Abort(int code)
    {
        _shared.Cancel.Cancel();
        throw new RankAbortedException(Rank, code);
    }

    /// <summary>Nothing to release: the ranks share the process.</summary>
    public void Dispose()
    {
    }

    /// <summary>Posts this rank's contribution and waits for everyone's; the caller reads them, then calls <see cref="Sync"/>.</summary>
    private object[] Exchange(object mine)
    {
        _shared.Slots[Rank] = mine;
        Sync();
        return _shared.Slots;
    }

    private void Sync()
    {
        var token = _shared.Cancel.Token;
        while (!_shared.Barrier.SignalAndWait(100, token))
        {
            if (Volatile.Read(ref _shared.Finished) > 0)
            {
                _shared.Cancel.Cancel();
                throw new InvalidOperationException($"Rank {Rank} waits in a collective that a rank which has already returned never entered: the ranks called different collectives.");
            }
        }
    }

    private sealed class Shared(int size)
    {
        public int Finished;

        public int Size { get; } = size;

        public Barrier Barrier { get; } = new(size);

        public object[] Slots { get; } = new object[size];

        public CancellationTokenSource Cancel { get; } = new();
    }
}

/// <summary>A rank called <see cref="ICommunicator.Abort"/> (in-process ranks cannot be killed, so the call throws this instead).</summary>
public sealed class RankAbortedException(int rank, int code)
    : Exception($"Rank {rank} aborted every rank with exit code {code}.")
{
    /// <summary>The rank that aborted.</summary>
    public int Rank { get; } = rank;

    /// <summary>The exit code it gave.</summary>
    public int Code { get; } = code;
}
