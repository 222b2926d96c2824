namespace WoodFisher.Kernels;

/// <summary>
/// Placeholder until the ILGPU backend (src/Kernels/Ilgpu) is merged; the integrator replaces this file with one
/// that constructs <c>IlgpuBackend</c> and probes for a CUDA/OpenCL device.
/// </summary>
internal static class IlgpuBackendFactory
{
    /// <summary>Whether a CUDA or OpenCL device is present (always false in this placeholder).</summary>
    internal static bool HasDevice => false;

    /// <summary>Creates the ILGPU backend.</summary>
    internal static ICurvatureBackend Create() => throw new NotSupportedException("ILGPU backend not built: this build of WoodFisher.Kernels has only the CPU backend (BackendKind.Cpu).");
}
