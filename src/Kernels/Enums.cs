namespace WoodFisher.Kernels;

/// <summary>Floating-point precision in which inverse blocks are stored and updated.</summary>
public enum Precision
{
    /// <summary>IEEE binary32 (the default: half the memory, twice the SIMD width).</summary>
    Float32,

    /// <summary>IEEE binary64 (for studies and oracles).</summary>
    Float64,
}

/// <summary>How the block inverses of F̂ = λI + (1/N)ΣgₙgₙᵀF are computed. All are exact up to rounding.</summary>
public enum WoodburyStrategy
{
    /// <summary>Pick <see cref="RankK"/> or <see cref="Dense"/> from the block size c and gradient count m.</summary>
    Auto,

    /// <summary>The paper's sequential Sherman–Morrison updates, one gradient at a time (4c² flops per gradient per block).</summary>
    Rank1,

    /// <summary>k gradients at once: U = F̂⁻¹Gₖᵀ, S = N·I + GₖU, F̂⁻¹ −= U S⁻¹ Uᵀ (matrix–matrix work).</summary>
    RankK,

    /// <summary>Form λI + GᵀG/N per block and invert it by Cholesky.</summary>
    Dense,
}

/// <summary>Which implementation of <see cref="ICurvatureBackend"/> runs the kernels.</summary>
public enum BackendKind
{
    /// <summary>The best available: an ILGPU CUDA/OpenCL device when present, else the SIMD CPU backend.</summary>
    Auto,

    /// <summary>SIMD CPU kernels (System.Numerics.Tensors, Vector256/Vector512), all cores.</summary>
    Cpu,

    /// <summary>ILGPU kernels: CUDA or OpenCL when present, otherwise ILGPU's CPU accelerator.</summary>
    Ilgpu,
}
