using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace WoodFisher.Distributed.Mpi;

/// <summary>
/// <see cref="ICommunicator"/> over MPI_COMM_WORLD of Open MPI 4.x (<see cref="OpenMpi"/>). Create one per process with
/// <see cref="Create"/> when <see cref="IsLaunched"/> (the process was started by <c>mpirun</c>); disposing it calls
/// MPI_Finalize. Transfers beyond MPI's 32-bit counts and displacements are split into rounds every rank can compute
/// from the counts alone.
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    /// <summary>Bytes all ranks together move in one round of a split gather (keeps displacements within an int).</summary>
    internal const long RoundBytes = 1L << 30;

    private readonly OpenMpi _mpi;
    private bool _finalized;

    private MpiCommunicator(OpenMpi mpi, int rank, int size, string version)
    {
        _mpi = mpi;
        Rank = rank;
        Size = size;
        Library = version;
    }

    /// <summary>
    /// True when this process was started by Open MPI's <c>mpirun</c> (or <c>srun</c> with Open MPI's PMIx support):
    /// <c>OMPI_COMM_WORLD_SIZE</c> is set.
    /// </summary>
    public static bool IsLaunched => Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is { Length: > 0 };

    /// <summary>The rank <c>mpirun</c> gave this process (<c>OMPI_COMM_WORLD_RANK</c>), before MPI is initialised; null outside mpirun.</summary>
    public static int? LaunchedRank => int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK"), out var r) ? r : null;

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size { get; }

    /// <summary>The MPI library's own version line (MPI_Get_library_version).</summary>
    public string Library { get; }

    /// <inheritdoc/>
    public string Description => $"{Library}, {Size} ranks";

    /// <summary>Loads Open MPI, initialises it (MPI_THREAD_SERIALIZED) unless already done, and returns MPI_COMM_WORLD.</summary>
    /// <exception cref="DllNotFoundException">Open MPI 4 is not installed.</exception>
    public static MpiCommunicator Create()
    {
        var mpi = OpenMpi.Load();
        int flag;
        OpenMpi.Check(mpi.Initialized(&flag), "MPI_Initialized");
        if (flag == 0)
        {
            int provided;
            OpenMpi.Check(mpi.InitThread(null, 0, OpenMpi.ThreadSerialized, &provided), "MPI_Init_thread");
        }

        int rank, size, length;
        OpenMpi.Check(mpi.CommRank(mpi.CommWorld, &rank), "MPI_Comm_rank");
        OpenMpi.Check(mpi.CommSize(mpi.CommWorld, &size), "MPI_Comm_size");
        var buffer = stackalloc byte[512];
        OpenMpi.Check(mpi.LibraryVersion(buffer, &length), "MPI_Get_library_version");
        var version = Encoding.UTF8.GetString(buffer, Math.Clamp(length, 0, 511)).Split(',', '\n')[0].Trim();
        return new MpiCommunicator(mpi, rank, size, version);
    }

    /// <inheritdoc/>
    public void AllReduce(Span<long> values, ReduceOperation operation) => Reduce(values, _mpi.Int64, operation);

    /// <inheritdoc/>
    public void AllReduce(Span<double> values, ReduceOperation operation) => Reduce(values, _mpi.Double, operation);

    /// <inheritdoc/>
    public void AllGather(ReadOnlySpan<byte> mine, Span<byte> all) => Communicator.AllGatherAsV(this, mine, all);

    /// <inheritdoc/>
    public void AllGatherV(ReadOnlySpan<byte> mine, Span<byte> all, ReadOnlySpan<long> counts)
    {
        Communicator.CheckCounts(this, mine.Length, counts, 0, all.Length, receives: true);
        Rounds(mine, all, counts, -1);
    }

    /// <inheritdoc/>
    public void GatherV(ReadOnlySpan<byte> mine, Span<byte> all, ReadOnlySpan<long> counts, int root)
    {
        Communicator.CheckCounts(this, mine.Length, counts, root, all.Length, receives: Rank == root);
        Rounds(mine, all, counts, root);
    }

    /// <inheritdoc/>
    public void Broadcast(Span<byte> data, int root)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, Size);
        fixed (byte* p = data)
        {
            for (long at = 0; at < data.Length || at == 0; at += RoundBytes)
            {
                var n = (int)Math.Min(RoundBytes, data.Length - at);
                OpenMpi.Check(_mpi.Bcast(p + at, n, _mpi.Byte, root, _mpi.CommWorld), "MPI_Bcast");
                if (data.Length == 0)
                {
                    break;
                }
            }
        }
    }

    /// <inheritdoc/>
    public void Barrier() => OpenMpi.Check(_mpi.Barrier(_mpi.CommWorld), "MPI_Barrier");

    /// <inheritdoc/>
    [DoesNotReturn]
    public void Abort(int code)
    {
        _mpi.Abort(_mpi.CommWorld, code);
        Environment.Exit(code);
    }

    /// <summary>MPI_Finalize (once; every rank must reach it).</summary>
    public void Dispose()
    {
        if (_finalized)
        {
            return;
        }

        _finalized = true;
        int flag;
        if (_mpi.Finalized(&flag) == 0 && flag == 0)
        {
            _mpi.Finalize();
        }
    }

    private void Reduce<T>(Span<T> values, nint type, ReduceOperation operation)
        where T : unmanaged
    {
        var op = operation switch { ReduceOperation.Sum => _mpi.Sum, ReduceOperation.Min => _mpi.Min, _ => _mpi.Max };
        const int chunk = 1 << 24;
        var send = new T[Math.Min(values.Length, chunk)];
        fixed (T* recv = values)
        fixed (T* s = send)
        {
            for (var at = 0; at < values.Length; at += chunk)
            {
                var n = Math.Min(chunk, values.Length - at);
                values.Slice(at, n).CopyTo(send);
                OpenMpi.Check(_mpi.Allreduce(s, recv + at, n, type, op, _mpi.CommWorld), "MPI_Allreduce");
            }
        }
    }

    /// <summary>
    /// Gathers (to <paramref name="root"/>, or to all when root = −1) in rounds: in each round rank r sends the next
    /// min(left, <see cref="RoundBytes"/>/Size) bytes of its part, so a round moves at most RoundBytes in all.
    /// </summary>
    private void Rounds(ReadOnlySpan<byte> mine, Span<byte> all, ReadOnlySpan<long> counts, int root)
    {
        var share = Math.Max(1, RoundBytes / Size);
        long most = 0;
        var offsets = new long[Size];
        for (var r = 0; r < Size; r++)
        {
            most = Math.Max(most, counts[r]);
            offsets[r] = r == 0 ? 0 : offsets[r - 1] + counts[r - 1];
        }

        var receive = root < 0 || Rank == root;
        var roundCounts = new int[Size];
        var displacements = new int[Size];
        byte[] staging = [];
        fixed (byte* send = mine)
        {
            for (long at = 0; at < most || at == 0; at += share)
            {
                long total = 0;
                for (var r = 0; r < Size; r++)
                {
                    roundCounts[r] = (int)Math.Clamp(counts[r] - at, 0, share);
                    displacements[r] = (int)total;
                    total += roundCounts[r];
                }

                if (receive && staging.Length < total)
                {
                    staging = new byte[total];
                }

                var n = roundCounts[Rank];
                fixed (byte* recv = staging)
                fixed (int* rc = roundCounts)
                fixed (int* dp = displacements)
                {
                    var code = root < 0
                        ? _mpi.Allgatherv(send + Math.Min(at, mine.Length), n, _mpi.Byte, recv, rc, dp, _mpi.Byte, _mpi.CommWorld)
                        : _mpi.Gatherv(send + Math.Min(at, mine.Length), n, _mpi.Byte, recv, rc, dp, _mpi.Byte, root, _mpi.CommWorld);
                    OpenMpi.Check(code, root < 0 ? "MPI_Allgatherv" : "MPI_Gatherv");
                }

                if (receive)
                {
                    for (var r = 0; r < Size; r++)
                    {
                        staging.AsSpan(displacements[r], roundCounts[r]).CopyTo(all.Slice((int)(offsets[r] + at), roundCounts[r]));
                    }
                }

                if (most == 0)
                {
                    break;
                }
            }
        }
    }
}
