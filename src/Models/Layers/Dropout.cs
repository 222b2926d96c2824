using System.Numerics;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models.Layers;

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
