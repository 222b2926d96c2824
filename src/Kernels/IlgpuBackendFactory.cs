using ILGPU;
using ILGPU.Runtime;
using WoodFisher.Kernels.Ilgpu;

namespace WoodFisher.Kernels;

/// <summary>Creates the ILGPU backend on the best accelerator present: CUDA, then OpenCL, then ILGPU's CPU accelerator.</summary>
public static class IlgpuBackendFactory
{
    private static readonly Lazy<bool> Probe = new(() =>
    {
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

    /// <summary>True when a CUDA or OpenCL device usable by ILGPU exists (probed once per process).</summary>
    public static bool HasDevice => Probe.Value;

    /// <summary>Creates an <see cref="IlgpuBackend"/> that owns its context and accelerator.</summary>
    /// <param name="preferDevice">
    /// True (the default) picks CUDA, else OpenCL, else the CPU accelerator; false always picks ILGPU's CPU accelerator.
    /// </param>
    /// <returns>The backend; dispose it to release the accelerator and context.</returns>
    public static ICurvatureBackend Create(bool preferDevice = true) => new IlgpuBackend(preferDevice);
}
