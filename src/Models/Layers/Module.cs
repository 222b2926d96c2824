using System.Numerics;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models.Layers;

/// <summary>
/// A network building block (PyTorch's nn.Module): owns parameters and buffers under local names, has children, and
/// runs forward on a <see cref="Tape{T}"/>. Full names join the path with dots (<c>layer1.0.conv1.weight</c>).
/// </summary>
/// <typeparam name="T">Element type.</typeparam>
public abstract class Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Training mode (batch statistics in BatchNorm, active Dropout) or evaluation mode.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>Runs the block on x (batch first), recording on <paramref name="tape"/>.</summary>
    public abstract Tensor<T> Forward(Tape<T> tape, Tensor<T> x);

    /// <summary>Direct children with their local names, in registration order.</summary>
    public virtual IEnumerable<(string Name, Module<T> Module)> Children => [];

    /// <summary>This block's own parameters with local names (weight, then bias).</summary>
    public virtual IEnumerable<(string Name, Parameter<T> Parameter)> LocalParameters => [];

    /// <summary>This block's own non-trainable state (BatchNorm running statistics) with local names.</summary>
    public virtual IEnumerable<(string Name, Tensor<T> Buffer)> LocalBuffers => [];

    /// <summary>Sets training mode here and in all descendants.</summary>
    public void SetTraining(bool training)
    {
        Training = training;
        foreach (var (_, c) in Children)
            c.SetTraining(training);
    }

    /// <summary>All parameters with full names, depth first, in registration order.</summary>
    public IEnumerable<(string Name, Parameter<T> Parameter)> NamedParameters(string prefix = "") => Named(prefix, m => m.LocalParameters);

    /// <summary>All buffers with full names, depth first.</summary>
    public IEnumerable<(string Name, Tensor<T> Buffer)> NamedBuffers(string prefix = "") => Named(prefix, m => m.LocalBuffers);

    private IEnumerable<(string Name, TItem Item)> Named<TItem>(string prefix, Func<Module<T>, IEnumerable<(string Name, TItem Item)>> local)
    {
        foreach (var (n, item) in local(this))
            yield return (prefix + n, item);
        foreach (var (n, c) in Children)
            foreach (var item in c.Named(prefix + n + ".", local))
                yield return item;
    }

    /// <summary>Uniform U(−bound, bound) initial values (PyTorch's default: bound = 1/√fan_in for weights and biases).</summary>
    protected static T[] Uniform(int count, double bound, Random rng)
    {
        var r = new T[count];
        for (var i = 0; i < count; i++)
            r[i] = T.CreateTruncating((rng.NextDouble() * 2 - 1) * bound);
        return r;
    }
}
