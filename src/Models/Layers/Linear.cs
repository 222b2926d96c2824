using System.Numerics;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models.Layers;

/// <summary>Fully connected layer y = x Wᵀ + b; weight [out, in], bias [out] (PyTorch layout), U(±1/√in) init.</summary>
public sealed class Linear<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the layer with seeded PyTorch-default initialisation.</summary>
    public Linear(int inFeatures, int outFeatures, bool bias, Random rng)
    {
        var bound = 1.0 / Math.Sqrt(inFeatures);
        Weight = new Parameter<T>("weight", [outFeatures, inFeatures], true, Uniform(outFeatures * inFeatures, bound, rng));
        if (bias)
            Bias = new Parameter<T>("bias", [outFeatures], false, Uniform(outFeatures, bound, rng)) { WeightOfLayer = Weight };
    }

    /// <summary>Weight [out, in].</summary>
    public Parameter<T> Weight { get; }

    /// <summary>Bias [out], or null.</summary>
    public Parameter<T>? Bias { get; }

    /// <inheritdoc/>
    public override IEnumerable<(string Name, Parameter<T> Parameter)> LocalParameters =>
        Bias is null ? [("weight", Weight)] : [("weight", Weight), ("bias", Bias)];

    /// <inheritdoc/>
    public override Tensor<T> Forward(Tape<T> tape, Tensor<T> x) => Ops.Linear(tape, x, Weight, Bias);
}
