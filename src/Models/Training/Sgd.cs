using System.Numerics;
using System.Numerics.Tensors;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models.Training;

/// <summary>
/// SGD with momentum μ, optional Nesterov, and L2 weight decay λ (PyTorch's torch.optim.SGD):
/// g ← ∇ + λθ; v ← μv + g; θ ← θ − η·(Nesterov ? g + μv : v). With masks, masked entries of θ and v are zeroed after the
/// step.
/// </summary>
/// <typeparam name="T">Element type.</typeparam>
/// <param name="parameters">The parameters it steps.</param>
/// <param name="momentum">μ.</param>
/// <param name="nesterov">Nesterov momentum.</param>
/// <param name="weightDecay">λ.</param>
public sealed class Sgd<T>(IReadOnlyList<Parameter<T>> parameters, double momentum = 0.9, bool nesterov = false, double weightDecay = 0)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly IReadOnlyList<Parameter<T>> _parameters = parameters;
    private readonly T[][] _velocity = parameters.Select(p => new T[p.Length]).ToArray();

    /// <summary>μ.</summary>
    public double Momentum { get; } = momentum;

    /// <summary>Nesterov momentum.</summary>
    public bool Nesterov { get; } = nesterov;

    /// <summary>λ (L2 coefficient added to the gradient).</summary>
    public double WeightDecay { get; } = weightDecay;

    /// <summary>Momentum buffer of parameter <paramref name="index"/>.</summary>
    public T[] Velocity(int index) => _velocity[index];

    /// <summary>Zeroes the masked entries of the momentum buffers (after a mask change, before the next step).</summary>
    public void Apply(ParameterMasks masks)
    {
        ArgumentNullException.ThrowIfNull(masks);
        for (var i = 0; i < _parameters.Count; i++)
            masks.Apply<T>(_parameters[i].Name, _velocity[i]);
    }

    /// <summary>One step with learning rate <paramref name="lr"/> from the gradients on <paramref name="tape"/>.</summary>
    public void Step(Tape<T> tape, double lr, ParameterMasks? masks = null)
    {
        var mu = T.CreateTruncating(Momentum);
        var wd = T.CreateTruncating(WeightDecay);
        var eta = T.CreateTruncating(lr);
        for (var i = 0; i < _parameters.Count; i++)
        {
            var p = _parameters[i];
            var g = tape.GradOrNull(p);
            if (g is null)
                continue;
            if (WeightDecay != 0)
                TensorPrimitives.FusedMultiplyAdd(p.Data, wd, g, g);
            var v = _velocity[i];
            if (Momentum != 0)
            {
                TensorPrimitives.FusedMultiplyAdd(v, mu, g, v);
                if (Nesterov)
                    TensorPrimitives.FusedMultiplyAdd(v, mu, g, g);
                else
                    v.CopyTo(g, 0);
            }
            TensorPrimitives.FusedMultiplyAdd(g, -eta, p.Data, p.Data);
            if (masks is not null)
            {
                masks.Apply<T>(p.Name, p.Data);
                masks.Apply<T>(p.Name, v);
            }
        }
    }
}
