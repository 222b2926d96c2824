using System.Numerics;

namespace WoodFisher.Models.Layers;

/// <summary>A k × k pooling layer with stride (default k) and no padding; [n, c, h, w] → [n, c, ho, wo].</summary>
public abstract class Pool2d<T>(int kernel, int? stride) : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Window size k (k × k).</summary>
    public int Kernel => kernel;

    /// <summary>Step between windows (k unless given).</summary>
    public int Stride => stride ?? kernel;
}
