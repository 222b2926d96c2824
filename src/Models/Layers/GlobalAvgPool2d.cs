using System.Numerics;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models.Layers;

/// <summary>Global average pooling [n, c, h, w] → [n, c] (mean over h·w).</summary>
public sealed class GlobalAvgPool2d<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public override Tensor<T> Forward(Tape<T> tape, Tensor<T> x)
    {
        if (x.Dim(2) != x.Dim(3))
            throw new NotSupportedException("Global average pooling here needs square feature maps.");
        var p = Ops.AvgPool2d(tape, x, x.Dim(2), x.Dim(2));
        return Ops.Reshape(tape, p, [x.Dim(0), x.Dim(1)]);
    }
}
