using System.Numerics;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models.Layers;

/// <summary>Runs named children in order.</summary>
public sealed class Sequential<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly List<(string Name, Module<T> Module)> _children = [];

    /// <summary>Appends a child under <paramref name="name"/>; returns this for chaining.</summary>
    public Sequential<T> Add(string name, Module<T> module)
    {
        _children.Add((name, module));
        return this;
    }

    /// <inheritdoc/>
    public override IEnumerable<(string Name, Module<T> Module)> Children => _children;

    /// <inheritdoc/>
    public override Tensor<T> Forward(Tape<T> tape, Tensor<T> x)
    {
        foreach (var (_, m) in _children)
            x = m.Forward(tape, x);
        return x;
    }
}
