using System.Numerics;
using WoodFisher.Models.Autograd;
using WoodFisher.Models.Layers;

namespace WoodFisher.Models;

/// <summary>Base class: a model is a root <see cref="Module{T}"/> plus its input shape and class count.</summary>
/// <typeparam name="T">Element type.</typeparam>
public abstract class Model<T> : IModel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Parameter<T>[] _parameters;
    private readonly (string Name, Tensor<T> Buffer)[] _buffers;

    /// <summary>Wraps <paramref name="root"/>, naming its parameters.</summary>
    protected Model(string spec, Module<T> root, int[] inputShape, int numClasses)
    {
        Spec = spec;
        Root = root;
        InputShape = inputShape;
        NumClasses = numClasses;
        var named = root.NamedParameters().ToArray();
        foreach (var (n, p) in named)
            p.Name = n;
        _parameters = named.Select(t => t.Parameter).ToArray();
        _buffers = root.NamedBuffers().ToArray();
    }

    /// <summary>The network.</summary>
    public Module<T> Root { get; }

    /// <inheritdoc/>
    public string Spec { get; }

    /// <inheritdoc/>
    public int[] InputShape { get; }

    /// <inheritdoc/>
    public int NumClasses { get; }

    /// <inheritdoc/>
    public IReadOnlyList<Parameter<T>> Parameters => _parameters;

    /// <inheritdoc/>
    public bool Training
    {
        get => Root.Training;
        set => Root.SetTraining(value);
    }

    /// <inheritdoc/>
    public Tensor<T> Forward(Tape<T> tape, Tensor<T> x)
    {
        var per = 1;
        foreach (var s in InputShape)
            per *= s;
        if (x.Length % per != 0)
            throw new ArgumentException($"Input length {x.Length} is not a multiple of the sample size {per} ([{string.Join(',', InputShape)}]).", nameof(x));
        var n = x.Length / per;
        if (x.Shape.Length != InputShape.Length + 1)
            x = new Tensor<T>([n, .. InputShape], x.Data, x.RequiresGrad);
        return Root.Forward(tape, x);
    }

    /// <inheritdoc/>
    public NamedTensors StateDict()
    {
        var d = new NamedTensors();
        foreach (var p in _parameters)
            d.Add(p.Name, ((int[])p.Shape.Clone(), p.ToFloats()));
        foreach (var (n, b) in _buffers)
            d.Add(n, ((int[])b.Shape.Clone(), b.ToFloats()));
        return d;
    }

    /// <inheritdoc/>
    /// <remarks>A missing <c>num_batches_tracked</c> is tolerated even when strict (older PyTorch files lack it).</remarks>
    public void LoadStateDict(NamedTensors state, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(state);
        var targets = _parameters.Select(p => (p.Name, (Tensor<T>)p)).Concat(_buffers).ToList();
        foreach (var (name, t) in targets)
        {
            if (!state.TryGetValue(name, out var v))
            {
                if (strict && !name.EndsWith("num_batches_tracked", StringComparison.Ordinal))
                    throw new KeyNotFoundException($"State dict lacks '{name}' (model {Spec}).");
                continue;
            }
            if (!v.Shape.SequenceEqual(t.Shape))
                throw new ArgumentException($"'{name}' has shape [{string.Join(',', v.Shape)}], the model expects [{string.Join(',', t.Shape)}].", nameof(state));
            for (var i = 0; i < t.Length; i++)
                t.Data[i] = T.CreateTruncating(v.Data[i]);
        }
        if (strict)
        {
            var known = targets.Select(t => t.Name).ToHashSet();
            foreach (var k in state.Keys)
            {
                if (!known.Contains(k) && !k.EndsWith("num_batches_tracked", StringComparison.Ordinal))
                    throw new ArgumentException($"State dict has '{k}', which model {Spec} does not have.", nameof(state));
            }
        }
    }
}
