using System.Numerics;

namespace WoodFisher.Models.Autograd;

/// <summary>
/// A trainable tensor with its PyTorch name (e.g. <c>fc1.weight</c>, shape [out, in]) and whether pruning may touch it
/// (Linear and Conv2d weights are prunable; biases and BatchNorm affine parameters are not).
/// </summary>
/// <typeparam name="T">Element type.</typeparam>
public sealed class Parameter<T> : Tensor<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates a parameter with a local name (the owning model prefixes it).</summary>
    public Parameter(string name, int[] shape, bool isPrunable, T[]? data = null) : base(shape, data, requiresGrad: true)
    {
        Name = name;
        IsPrunable = isPrunable;
    }

    /// <summary>Full PyTorch-style name, e.g. <c>layer1.0.conv1.weight</c>.</summary>
    public string Name { get; internal set; }

    /// <summary>True for Linear/Conv2d weights, the tensors OBS pruning acts on.</summary>
    public bool IsPrunable { get; }

    /// <summary>For a bias: the weight of the same layer (its per-sample gradient is computed alongside).</summary>
    public Parameter<T>? WeightOfLayer { get; internal set; }
}
