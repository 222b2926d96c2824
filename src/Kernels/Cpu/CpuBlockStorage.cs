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
    }

    public BlockLayout Layout { get; }

    public Precision Precision { get; }

    public T[][] Blocks { get; private set; }

    public void Dispose() => Blocks = [];
}
