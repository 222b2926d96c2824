using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using WoodFisher.Kernels;
using WoodFisher.Kernels.Ilgpu;

namespace WoodFisher.Kernels.Tests.Ilgpu;

/// <summary>
/// What only <see cref="IlgpuBackend"/> has: its name, the factory's device choice and storage ownership. Its operations
/// against the float64 reference are in <see cref="Contract.IlgpuBackendContract"/>.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.None)]
public sealed class IlgpuBackendTests
{
    private Context _context = null!;
    private Accelerator _accelerator = null!;
    private IlgpuBackend _backend = null!;

    // Assertions make the CPU accelerator bounds-check every view access, so an off-by-one in a kernel fails here.
    [OneTimeSetUp]
    public void CreateBackend()
    {
        (_context, _accelerator) = TestAccelerator.Create();
        _backend = new IlgpuBackend(_accelerator);
        TestContext.Progress.WriteLine($"ILGPU {_accelerator.AcceleratorType} accelerator: {_accelerator.MaxNumThreadsPerGroup} threads per group at most");
    }

    [OneTimeTearDown]
    public void DisposeBackend()
    {
        _backend.Dispose();
        _accelerator.Dispose();
        _context.Dispose();
    }

    [Test]
    public void Name_NamesTheAccelerator() => Assert.That(_backend.Name, Is.EqualTo(TestAccelerator.DeviceRequested ? "ilgpu-" + _accelerator.AcceleratorType.ToString().ToLowerInvariant() : "ilgpu-cpu"));

    [Test]
    public void Factory_CreatesAnIlgpuBackend()
    {
        using var backend = IlgpuBackendFactory.Create(preferDevice: false);
        Assert.That(backend.Name, Is.EqualTo("ilgpu-cpu"));
    }

    [Test]
    public void Factory_PrefersADevice_ExactlyWhenOneExists()
    {
        using var backend = IlgpuBackendFactory.Create();
        Assert.That(backend.Name, IlgpuBackendFactory.HasDevice ? Is.Not.EqualTo("ilgpu-cpu") : Is.EqualTo("ilgpu-cpu"));
    }

    [Test]
    public void Storage_FromAnotherBackend_IsRejected()
    {
        using var other = new IlgpuBackend(preferDevice: false);
        using var storage = other.Allocate(BlockLayout.Create(2, 2), Precision.Float64);
        Assert.That(() => _backend.SetScaledIdentity(storage, 1.0), Throws.ArgumentException);
    }
}
