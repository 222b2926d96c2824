using System.Numerics;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models.Layers;

/// <summary>ReLU, y = max(x, 0).</summary>
public sealed class Relu<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public override Tensor<T> Forward(Tape<T> tape, Tensor<T> x) => Ops.Relu(tape, x);
}

/// <summary>Flatten [n, …] → [n, prod(…)].</summary>
public sealed class Flatten<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public override Tensor<T> Forward(Tape<T> tape, Tensor<T> x) => Ops.Reshape(tape, x, [x.Dim(0), x.Length / x.Dim(0)]);
}

/// <summary>Inverted dropout with probability p in training mode, identity in eval mode; seeded.</summary>
public sealed class Dropout<T>(double p, int seed) : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Random _rng = new(seed);

    /// <summary>Drop probability.</summary>
    public double P { get; } = p;

    /// <inheritdoc/>
    public override Tensor<T> Forward(Tape<T> tape, Tensor<T> x)
    {
        if (!Training || P == 0)
            return x;
        lock (_rng)
            return Ops.Dropout(tape, x, P, _rng);
    }
}
