using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using WoodFisher.Kernels;
using WoodFisher.Kernels.Ilgpu;

namespace WoodFisher.Kernels.Tests.Contract;

/// <summary>
/// The contract on the ILGPU backend, on the accelerator <see cref="Ilgpu.TestAccelerator"/> gives (ILGPU's CPU accelerator
/// with assertions on, or a CUDA/OpenCL device in a device run), once with the rank-k kernels the CPU accelerator uses
/// by default (one thread per entry, chunks copied from the caller's memory) and once as on a GPU (the group kernels
/// that stage in shared memory, chunks through page-locked buffers).
/// </summary>
[TestFixture(false)]
[TestFixture(true)]
[Parallelizable(ParallelScope.None)]
public sealed class IlgpuBackendContract(bool tiled) : BackendContract
{
    private Context? _context;
    private Accelerator? _accelerator;

    protected override int RankKChunk => IlgpuBackend.RankKChunk;

    [OneTimeSetUp]
    public void CreateTheAccelerator()
    {
        (_context, _accelerator) = Ilgpu.TestAccelerator.Create();
    }

    [OneTimeTearDown]
    public void DisposeTheAccelerator()
    {
        DisposeTheBackend();
        _accelerator?.Dispose();
        _context?.Dispose();
    }

    protected override ICurvatureBackend CreateBackend() => new IlgpuBackend(_accelerator!) { TiledRankK = tiled, StagedUploads = tiled };
}
