using System.Numerics;

namespace WoodFisher.Models.Autograd;

/// <summary>
/// The record of one computation: ops append their backward closures while running forward; <see cref="Backward"/> replays
/// them in reverse. Gradients (and, in forward-over-reverse mode, tangents R{·} and gradient tangents R{∇}) are stored here,
/// keyed by tensor identity, so there is no global state: independent tapes may run concurrently, even over one model.
/// </summary>
/// <typeparam name="T">Element type.</typeparam>
public sealed class Tape<T> where T : unmanaged, IFloatingPointIeee754<T>
{
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

    /// <summary>Number of recorded ops.</summary>
    public int Count => _backward.Count;

    internal void Record(Action backward) => _backward.Add(backward);

    /// <summary>The gradient ∂L/∂t accumulated so far (created as zeros on first use).</summary>
    public T[] Grad(Tensor<T> t)
    {
        if (!_grads.TryGetValue(t, out var g))
        {
            g = new T[t.Length];
            _grads[t] = g;
        }
        return g;
    }

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
        var r = new T[t.Length];
        _tangents[t] = r;
        return r;
    }

    /// <summary>R{∂L/∂t}: after a forward-over-reverse backward, for a parameter this is its block of H v.</summary>
    public T[] GradTangent(Tensor<T> t)
    {
        if (!_gradTangents.TryGetValue(t, out var g))
        {
            g = new T[t.Length];
            _gradTangents[t] = g;
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
