using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using WoodFisher.Kernels.Ilgpu;

namespace WoodFisher.Kernels.Tests.Ilgpu;

/// <summary>
/// The accelerator the ILGPU fixtures run on. By default ILGPU's CPU accelerator with assertions on (every view access
/// bounds-checked, so an off-by-one in a kernel fails), which is what CI has. With <c>WOODFISHER_TEST_DEVICE=1</c> the
/// first CUDA (else OpenCL) device instead: the device run of bench/device/run.sh, where the same fixtures check the
/// kernels compiled to PTX against the same oracles. Asking for a device where there is none fails the fixture rather
/// than passing on the CPU.
/// </summary>
internal static class TestAccelerator
{
    public static bool DeviceRequested => Environment.GetEnvironmentVariable("WOODFISHER_TEST_DEVICE") == "1";

    public static (Context Context, Accelerator Accelerator) Create()
    {
        if (!DeviceRequested)
        {
            var cpu = Context.Create(b => b.CPU().EnableAlgorithms().Assertions());
            return (cpu, cpu.CreateCPUAccelerator(0));
        }

        var context = Context.Create(b => b.Default().EnableAlgorithms());
        var device = IlgpuBackend.SelectDevice(context, preferDevice: true);
        if (device.AcceleratorType == AcceleratorType.CPU)
        {
            context.Dispose();
            Assert.Fail("WOODFISHER_TEST_DEVICE=1 but ILGPU finds no CUDA or OpenCL device");
        }
        TestContext.Progress.WriteLine($"ILGPU device: {device.Name} ({device.AcceleratorType}, {device.MemorySize >> 20} MiB)");
        return (context, device.CreateAccelerator(context));
    }
}
