using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using WoodFisher.Kernels;
using WoodFisher.Kernels.Ilgpu;

namespace WoodFisher.Kernels.Tests.Contract;

/// <summary>
/// The contract on the ILGPU backend, on the accelerator <see cref="Ilgpu.TestAccelerator"/> gives (ILGPU's CPU accelerator
/// with assertions on, or a CUDA/OpenCL device in a device run), once with the untiled rank-k apply the CPU accelerator
/// uses by default and once with the shared-memory tiled kernel GPUs use.
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

    protected override ICurvatureBackend CreateBackend() => new IlgpuBackend(_accelerator!) { TiledRankK = tiled };
}
