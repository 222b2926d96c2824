using System.Numerics;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models.Layers;

/// <summary>Average pooling, kernel k, stride (default k), no padding; [n, c, h, w] → [n, c, ho, wo].</summary>
public sealed class AvgPool2d<T>(int kernel, int? stride = null) : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Window size k (k × k).</summary>
    public int Kernel => kernel;

    /// <summary>Step between windows (k unless given).</summary>
    public int Stride => stride ?? kernel;

    /// <inheritdoc/>
    public override Tensor<T> Forward(Tape<T> tape, Tensor<T> x) => Ops.AvgPool2d(tape, x, kernel, stride ?? kernel);
}
