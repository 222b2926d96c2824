using System.Numerics;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models.Layers;

/// <summary>Max pooling, kernel k, stride (default k), no padding; [n, c, h, w] → [n, c, ho, wo].</summary>
public sealed class MaxPool2d<T>(int kernel, int? stride = null) : Pool2d<T>(kernel, stride) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public override Tensor<T> Forward(Tape<T> tape, Tensor<T> x) => Ops.MaxPool2d(tape, x, Kernel, Stride);
}
