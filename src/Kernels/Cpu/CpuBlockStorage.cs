using System.Numerics;

namespace WoodFisher.Kernels.Cpu;

/// <summary>Inverse blocks in managed memory: one c_i × c_i row-major array per block (no 2³¹-element limit overall).</summary>
internal sealed class CpuBlockStorage<T> : IBlockStorage
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public CpuBlockStorage(BlockLayout layout, Precision precision)
    {
        Layout = layout;
        Precision = precision;
        Blocks = new T[layout.Count][];
        for (var b = 0; b < layout.Count; b++)
        {
            var c = layout.Size(b);
            Blocks[b] = new T[c * c];
        }

        ScaledIdentity = new T[layout.Count];
        Array.Fill(ScaledIdentity, T.NaN);
    }

    public BlockLayout Layout { get; }

    public Precision Precision { get; }

    public T[][] Blocks { get; private set; }

    /// <summary>
    /// Per block: σ while the block is exactly σI (as <see cref="CpuKernels{T}.SetScaledIdentity"/> leaves it), NaN once
    /// anything else has written it. The rank-k update uses it to skip U = GₖF⁻¹ = σGₖ on a fresh block.
    /// </summary>
    public T[] ScaledIdentity { get; }

    /// <summary>Marks every block as no longer a known multiple of the identity.</summary>
    public void ForgetIdentity() => Array.Fill(ScaledIdentity, T.NaN);

    public void Dispose() => Blocks = [];
}
