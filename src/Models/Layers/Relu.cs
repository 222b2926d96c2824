using System.Numerics;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models.Layers;

/// <summary>ReLU, y = max(x, 0).</summary>
public sealed class Relu<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public override Tensor<T> Forward(Tape<T> tape, Tensor<T> x) => Ops.Relu(tape, x);
}
