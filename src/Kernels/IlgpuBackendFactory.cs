using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using WoodFisher.Kernels.Ilgpu;

namespace WoodFisher.Kernels;

/// <summary>Creates the ILGPU backend on the best accelerator present: CUDA, then OpenCL, then ILGPU's CPU accelerator.</summary>
public static class IlgpuBackendFactory
{
    private static readonly Lazy<bool> Probe = new(() =>
    {
        if (!DriverPresent())
        {
            return false;
        }

        try
        {
            using var context = Context.Create(b => b.Default());
            foreach (var device in context.Devices)
            {
                if (device.AcceleratorType is AcceleratorType.Cuda or AcceleratorType.OpenCL)
                {
                    return true;
                }
            }

            return false;
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or DllNotFoundException or TypeInitializationException)
        {
            return false;
        }
    });

    /// <summary>
    /// Whether a device could exist at all: the CUDA driver library loads, or an OpenCL loader loads and reports a
    /// platform. Without either ILGPU finds no device, and creating a context only to learn that costs about 0.1 s of
    /// compilation and probing on every CPU-only run.
    /// </summary>
    private static bool DriverPresent()
    {
        string[] cuda = OperatingSystem.IsWindows() ? ["nvcuda.dll"] : ["libcuda.so.1", "libcuda.so"];
        string[] openCl = OperatingSystem.IsWindows() ? ["OpenCL.dll"]
            : OperatingSystem.IsMacOS() ? ["/System/Library/Frameworks/OpenCL.framework/OpenCL"]
            : ["libOpenCL.so.1", "libOpenCL.so"];
        foreach (var name in cuda)
        {
            if (NativeLibrary.TryLoad(name, out _))
            {
                return true;
            }
        }

        foreach (var name in openCl)
        {
            if (NativeLibrary.TryLoad(name, out var library))
            {
                return HasOpenClPlatform(library);
            }
        }

        return false;
    }

    /// <summary>clGetPlatformIDs's count (an ICD loader with no vendor installed reports none); true when it cannot be asked.</summary>
    private static unsafe bool HasOpenClPlatform(nint library)
    {
        if (!NativeLibrary.TryGetExport(library, "clGetPlatformIDs", out var export))
        {
            return true;
        }

        uint count = 0;
        var status = ((delegate* unmanaged<uint, nint*, uint*, int>)export)(0, null, &count);
        return status == 0 && count > 0;
    }

    /// <summary>True when a CUDA or OpenCL device usable by ILGPU exists (probed once per process).</summary>
    public static bool HasDevice => Probe.Value;

    /// <summary>Creates an <see cref="IlgpuBackend"/> that owns its context and accelerator.</summary>
    /// <param name="preferDevice">
    /// True (the default) picks CUDA, else OpenCL, else the CPU accelerator; false always picks ILGPU's CPU accelerator.
    /// </param>
    /// <returns>The backend; dispose it to release the accelerator and context.</returns>
    public static ICurvatureBackend Create(bool preferDevice = true) => new IlgpuBackend(preferDevice);
}
