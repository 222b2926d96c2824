using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using WoodFisher.Kernels;
using WoodFisher.Kernels.Ilgpu;

namespace WoodFisher.Kernels.Tests.Contract;

/// <summary>
/// The contract on the ILGPU backend, on ILGPU's CPU accelerator with assertions on (every view access bounds-checked, so
/// an off-by-one in a kernel fails here), once with the untiled rank-k apply the CPU accelerator uses by default and
/// once with the shared-memory tiled kernel GPUs use.
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
        _context = Context.Create(b => b.CPU().EnableAlgorithms().Assertions());
        _accelerator = _context.CreateCPUAccelerator(0);
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
