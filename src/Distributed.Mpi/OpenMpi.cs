using System.Runtime.InteropServices;

namespace WoodFisher.Distributed.Mpi;

/// <summary>
/// The binding: the dozen MPI functions <see cref="MpiCommunicator"/> calls, resolved at run time from Open MPI's
/// <c>libmpi.so.40</c> (Open MPI 4.x, Debian's <c>libopenmpi3</c>) with <see cref="NativeLibrary"/>, so nothing MPI is
/// needed to build or to run outside <c>mpirun</c>.
/// </summary>
/// <remarks>
/// <para>Open MPI's handles are pointers: <c>MPI_COMM_WORLD</c> is <c>&amp;ompi_mpi_comm_world</c>, <c>MPI_DOUBLE</c>
/// <c>&amp;ompi_mpi_double</c>, <c>MPI_SUM</c> <c>&amp;ompi_mpi_op_sum</c> — so each handle is the address of an exported
/// global, which <see cref="NativeLibrary.GetExport"/> returns. (MPICH and MS-MPI use 32-bit integer handles instead:
/// this binding is for Open MPI's ABI only, which is why MPI.NET 1.4.0, built for MS-MPI's, cannot be used.)</para>
/// <para>The library is opened with <c>dlopen(RTLD_NOW | RTLD_GLOBAL)</c>: Open MPI loads its components (<c>mca_*.so</c>)
/// with dlopen, and they resolve symbols of libmpi and libopen-pal from the global namespace.</para>
/// <para>Every count is an <c>int</c>; <see cref="MpiCommunicator"/> splits larger transfers.</para>
/// </remarks>
internal sealed unsafe class OpenMpi
{
    /// <summary>The shared library's name (SONAME of Open MPI 4.x).</summary>
    public const string LibraryName = "libmpi.so.40";

    /// <summary>MPI_THREAD_SERIALIZED: any thread may call MPI, one at a time.</summary>
    public const int ThreadSerialized = 2;

    private const int RtldNow = 2;
    private const int RtldGlobal = 0x100;

    private OpenMpi(nint library)
    {
        Library = library;
        void* Fn(string name) => (void*)NativeLibrary.GetExport(library, name);

        nint Handle(string symbol) => NativeLibrary.GetExport(library, symbol);

        InitThread = (delegate* unmanaged<int*, nint, int, int*, int>)Fn("MPI_Init_thread");
        Initialized = (delegate* unmanaged<int*, int>)Fn("MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)Fn("MPI_Finalized");
        Finalize = (delegate* unmanaged<int>)Fn("MPI_Finalize");
        CommRank = (delegate* unmanaged<nint, int*, int>)Fn("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<nint, int*, int>)Fn("MPI_Comm_size");
        Allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Fn("MPI_Allreduce");
        Allgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)Fn("MPI_Allgather");
        Allgatherv = (delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int>)Fn("MPI_Allgatherv");
        Gatherv = (delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, int, nint, int>)Fn("MPI_Gatherv");
        Bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Fn("MPI_Bcast");
        Barrier = (delegate* unmanaged<nint, int>)Fn("MPI_Barrier");
        Abort = (delegate* unmanaged<nint, int, int>)Fn("MPI_Abort");
        LibraryVersion = (delegate* unmanaged<byte*, int*, int>)Fn("MPI_Get_library_version");
        CommWorld = Handle("ompi_mpi_comm_world");
        Byte = Handle("ompi_mpi_byte");
        Int64 = Handle("ompi_mpi_int64_t");
        Double = Handle("ompi_mpi_double");
        Sum = Handle("ompi_mpi_op_sum");
        Min = Handle("ompi_mpi_op_min");
        Max = Handle("ompi_mpi_op_max");
    }

    public nint Library { get; }

    public delegate* unmanaged<int*, nint, int, int*, int> InitThread { get; }

    public delegate* unmanaged<int*, int> Initialized { get; }

    public delegate* unmanaged<int*, int> Finalized { get; }

    public delegate* unmanaged<int> Finalize { get; }

    public delegate* unmanaged<nint, int*, int> CommRank { get; }

    public delegate* unmanaged<nint, int*, int> CommSize { get; }

    /// <summary>MPI_Allreduce(sendbuf, recvbuf, count, datatype, op, comm).</summary>
    public delegate* unmanaged<void*, void*, int, nint, nint, nint, int> Allreduce { get; }

    /// <summary>MPI_Allgather(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm).</summary>
    public delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Allgather { get; }

    /// <summary>MPI_Allgatherv(sendbuf, sendcount, sendtype, recvbuf, recvcounts, displs, recvtype, comm).</summary>
    public delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int> Allgatherv { get; }

    /// <summary>MPI_Gatherv(sendbuf, sendcount, sendtype, recvbuf, recvcounts, displs, recvtype, root, comm).</summary>
    public delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, int, nint, int> Gatherv { get; }

    /// <summary>MPI_Bcast(buffer, count, datatype, root, comm).</summary>
    public delegate* unmanaged<void*, int, nint, int, nint, int> Bcast { get; }

    public delegate* unmanaged<nint, int> Barrier { get; }

    public delegate* unmanaged<nint, int, int> Abort { get; }

    public delegate* unmanaged<byte*, int*, int> LibraryVersion { get; }

    /// <summary>MPI_COMM_WORLD.</summary>
    public nint CommWorld { get; }

    /// <summary>MPI_BYTE.</summary>
    public nint Byte { get; }

    /// <summary>MPI_INT64_T.</summary>
    public nint Int64 { get; }

    /// <summary>MPI_DOUBLE.</summary>
    public nint Double { get; }

    /// <summary>MPI_SUM.</summary>
    public nint Sum { get; }

    /// <summary>MPI_MIN.</summary>
    public nint Min { get; }

    /// <summary>MPI_MAX.</summary>
    public nint Max { get; }

    /// <summary>Opens Open MPI's library.</summary>
    /// <exception cref="DllNotFoundException">libmpi.so.40 is not installed (the message says which package brings it).</exception>
    public static OpenMpi Load()
    {
        nint handle;
        fixed (byte* name = "libmpi.so.40\0"u8)
        {
            handle = DlOpen(name, RtldNow | RtldGlobal);
        }

        if (handle == 0)
        {
            var why = Marshal.PtrToStringUTF8(DlError()) ?? "not found";
            throw new DllNotFoundException($"Cannot load Open MPI's {LibraryName} ({why}): install Open MPI 4 (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev).");
        }

        return new OpenMpi(handle);
    }

    /// <summary>Throws unless an MPI call returned MPI_SUCCESS (0).</summary>
    public static void Check(int code, string call)
    {
        if (code != 0)
        {
            throw new InvalidOperationException($"{call} failed with MPI error code {code}.");
        }
    }

    [DllImport("libc.so.6", EntryPoint = "dlopen")]
    private static extern nint DlOpen(byte* file, int mode);

    [DllImport("libc.so.6", EntryPoint = "dlerror")]
    private static extern nint DlError();
}
