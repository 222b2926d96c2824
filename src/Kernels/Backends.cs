namespace WoodFisher.Kernels;

/// <summary>Creates <see cref="ICurvatureBackend"/> implementations by <see cref="BackendKind"/>.</summary>
public static class Backends
{
    /// <summary>
    /// The backend for <paramref name="kind"/>: <see cref="BackendKind.Cpu"/> is the SIMD CPU backend;
    /// <see cref="BackendKind.Ilgpu"/> the ILGPU backend; <see cref="BackendKind.Auto"/> the ILGPU backend when a
    /// CUDA or OpenCL device is present, else the CPU backend. The caller owns (disposes) the result.
    /// </summary>
    public static ICurvatureBackend Create(BackendKind kind) => kind switch
    {
        BackendKind.Cpu => new CpuBackend(),
        BackendKind.Ilgpu => IlgpuBackendFactory.Create(),
        BackendKind.Auto => IlgpuBackendFactory.HasDevice ? IlgpuBackendFactory.Create() : new CpuBackend(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown backend kind."),
    };

    /// <summary>The kind <see cref="BackendKind.Auto"/> resolves to on this machine.</summary>
    public static BackendKind Resolve(BackendKind kind) => kind == BackendKind.Auto
        ? (IlgpuBackendFactory.HasDevice ? BackendKind.Ilgpu : BackendKind.Cpu)
        : kind;
}
