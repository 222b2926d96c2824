using System.Numerics;

namespace WoodFisher.Models.Autograd;

/// <summary>
/// The record of one computation: ops append their backward closures while running forward; <see cref="Backward"/> replays
/// them in reverse. Gradients (and, in forward-over-reverse mode, tangents R{·} and gradient tangents R{∇}) are stored here,
/// keyed by tensor identity, so there is no global state: independent tapes may run concurrently, even over one model.
/// </summary>
/// <typeparam name="T">Element type.</typeparam>
public sealed class Tape<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly List<T[]> _owned = [];
    private readonly List<int[]> _ownedIndices = [];
    private readonly List<Action> _backward = [];
    private readonly Dictionary<Tensor<T>, T[]> _grads = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<Tensor<T>, T[]> _tangents = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<Tensor<T>, T[]> _gradTangents = new(ReferenceEqualityComparer.Instance);

    /// <summary>
    /// Pearlmutter's R-operator mode: forward propagates tangents R{x} = Jv from the tangents set on parameters, and backward
    /// also propagates R{∇}, so that after <see cref="Backward"/>, <see cref="GradTangent"/> of a parameter is (Hv) for it.
    /// </summary>
    public bool ForwardOverReverse { get; init; }

    /// <summary>Receives layer inputs and output gradients during backward (per-sample gradients, K-FAC); null for none.</summary>
    public IBackwardObserver<T>? Observer { get; init; }

    /// <summary>
    /// Skip accumulating ∂L/∂θ into Linear/Conv2d weights and biases (the observer takes what it needs; gradients still flow
    /// to layer inputs). Saves the batch-summed weight gradient when only per-sample gradients or K-FAC factors are wanted.
    /// </summary>
    public bool ObserverOnly { get; init; }

    /// <summary>
    /// Take op outputs, gradients and tangents from a pool of reused arrays, and give them back on <see cref="Dispose"/>: a
    /// loop that disposes each step's tape then stops allocating after its first step. The tensors computed on the tape
    /// and the arrays it returned must not be used after <see cref="Dispose"/>.
    /// </summary>
    public bool RecycleBuffers { get; init; }

    /// <summary>Number of recorded ops.</summary>
    public int Count => _backward.Count;

    internal void Record(Action backward) => _backward.Add(backward);

    /// <summary>
    /// A new array for this computation: zeroed, or with unspecified contents that the caller overwrites entirely.
    /// </summary>
    internal T[] Allocate(int length, bool zeroed)
    {
        T[] a;
        if (RecycleBuffers)
        {
            a = BufferPool<T>.Rent(length);
            lock (_owned)
                _owned.Add(a);
            if (zeroed)
                a.AsSpan().Clear();
        }
        else
        {
            a = zeroed ? new T[length] : GC.AllocateUninitializedArray<T>(length);
        }
        return a;
    }

    /// <summary>An index array for this computation (e.g. pooling's argmax), with unspecified contents.</summary>
    internal int[] AllocateIndices(int length)
    {
        if (!RecycleBuffers)
            return GC.AllocateUninitializedArray<int>(length);
        var a = BufferPool<int>.Rent(length);
        lock (_ownedIndices)
            _ownedIndices.Add(a);
        return a;
    }

    /// <summary>An op's output tensor, every element of which the op writes.</summary>
    internal Tensor<T> Output(int[] shape, bool requiresGrad)
    {
        var n = 1;
        foreach (var s in shape)
            n *= s;
        return new Tensor<T>(shape, Allocate(n, zeroed: false), requiresGrad);
    }

    /// <summary>
    /// The gradient of <paramref name="t"/> for an op that writes all of it: <paramref name="fresh"/> tells whether the
    /// array is new (its contents unspecified, to be assigned) or already holds gradient (to be added to).
    /// </summary>
    internal T[] GradForWrite(Tensor<T> t, out bool fresh)
    {
        fresh = !_grads.TryGetValue(t, out var g);
        if (fresh)
        {
            g = Allocate(t.Length, zeroed: false);
            _grads[t] = g;
        }
        return g!;
    }

    /// <summary>Returns the recycled buffers to the pool (see <see cref="RecycleBuffers"/>) and forgets every gradient.</summary>
    public void Dispose()
    {
        _grads.Clear();
        _tangents.Clear();
        _gradTangents.Clear();
        _backward.Clear();
        lock (_owned)
        {
            foreach (var a in _owned)
                BufferPool<T>.Return(a);
            _owned.Clear();
        }
        lock (_ownedIndices)
        {
            foreach (var a in _ownedIndices)
                BufferPool<int>.Return(a);
            _ownedIndices.Clear();
        }
    }

    /// <summary>The gradient ∂L/∂t accumulated so far (created as zeros on first use).</summary>
    public T[] Grad(Tensor<T> t) => GetOrZeros(_grads, t);

    /// <summary>The gradient of <paramref name="t"/>, or null when nothing flowed into it.</summary>
    public T[]? GradOrNull(Tensor<T> t) => _grads.TryGetValue(t, out var g) ? g : null;

    /// <summary>The tangent R{t} (directional derivative along the parameter direction), or null when it is zero.</summary>
    public T[]? TangentOrNull(Tensor<T> t) => _tangents.TryGetValue(t, out var g) ? g : null;

    /// <summary>Sets the tangent R{t} (for a parameter: its slice of the direction v). Not copied.</summary>
    public void SetTangent(Tensor<T> t, T[] tangent)
    {
        if (tangent.Length != t.Length)
            throw new ArgumentException($"Tangent length {tangent.Length} does not match tensor length {t.Length}.", nameof(tangent));
        _tangents[t] = tangent;
    }

    internal T[] NewTangent(Tensor<T> t)
    {
        var r = Allocate(t.Length, zeroed: true);
        _tangents[t] = r;
        return r;
    }

    /// <summary>R{∂L/∂t}: after a forward-over-reverse backward, for a parameter this is its block of H v.</summary>
    public T[] GradTangent(Tensor<T> t) => GetOrZeros(_gradTangents, t);

    private T[] GetOrZeros(Dictionary<Tensor<T>, T[]> store, Tensor<T> t)
    {
        if (!store.TryGetValue(t, out var g))
        {
            g = Allocate(t.Length, zeroed: true);
            store[t] = g;
        }
        return g;
    }

    /// <summary>R{∂L/∂t}, or null when zero.</summary>
    public T[]? GradTangentOrNull(Tensor<T> t) => _gradTangents.TryGetValue(t, out var g) ? g : null;

    /// <summary>
    /// Runs the recorded ops backward from <paramref name="output"/>, seeding ∂L/∂output = 1 (every element), and R{∂L/∂output} = 0.
    /// A tape can be replayed once.
    /// </summary>
    public void Backward(Tensor<T> output)
    {
        var g = Grad(output);
        g.AsSpan().Fill(T.One);
        for (var i = _backward.Count - 1; i >= 0; i--)
            _backward[i]();
        _backward.Clear();
    }
}
