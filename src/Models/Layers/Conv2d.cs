using System.Numerics;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models.Layers;

/// <summary>2-D convolution; weight [out, in, k, k], bias [out]; U(±1/√(in·k²)) init (PyTorch default).</summary>
public sealed class Conv2d<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the layer with seeded PyTorch-default initialisation.</summary>
    public Conv2d(int inChannels, int outChannels, int kernel, int stride, int padding, bool bias, Random rng)
    {
        Stride = stride;
        Padding = padding;
        var bound = 1.0 / Math.Sqrt(inChannels * kernel * kernel);
        Weight = new Parameter<T>("weight", [outChannels, inChannels, kernel, kernel], true,
            Uniform(outChannels * inChannels * kernel * kernel, bound, rng));
        if (bias)
            Bias = new Parameter<T>("bias", [outChannels], false, Uniform(outChannels, bound, rng)) { WeightOfLayer = Weight };
    }

    /// <summary>Stride in both directions.</summary>
    public int Stride { get; }

    /// <summary>Zero padding on each side.</summary>
    public int Padding { get; }

    /// <summary>Weight [out, in, k, k].</summary>
    public Parameter<T> Weight { get; }

    /// <summary>Bias [out], or null.</summary>
    public Parameter<T>? Bias { get; }

    /// <inheritdoc/>
    public override IEnumerable<(string Name, Parameter<T> Parameter)> LocalParameters =>
        Bias is null ? [("weight", Weight)] : [("weight", Weight), ("bias", Bias)];

    /// <inheritdoc/>
    public override Tensor<T> Forward(Tape<T> tape, Tensor<T> x) => Ops.Conv2d(tape, x, Weight, Bias, Stride, Padding);
}
