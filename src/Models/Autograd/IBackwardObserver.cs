using System.Numerics;

namespace WoodFisher.Models.Autograd;

/// <summary>
/// Sees, during a backward pass, the layer inputs and output gradients of every Linear and Conv2d op: the raw material for
/// per-sample gradients (BackPACK's BatchGrad) and K-FAC factors, collected in the same single batched pass.
/// </summary>
/// <typeparam name="T">Element type.</typeparam>
public interface IBackwardObserver<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Linear y = x Wᵀ + b. <paramref name="input"/> is x [n, inF], <paramref name="outputGrad"/> ∂L/∂y [n, outF].</summary>
    void OnLinear(Parameter<T> weight, Parameter<T>? bias, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, int n, int inF, int outF);

    /// <summary>
    /// Conv2d as y_n = W unfold(x_n) + b. <paramref name="input"/> is x [n, C, H, W] (unfold runs of it with
    /// <paramref name="geometry"/>: K = C·kh·kw rows, L output positions per image), <paramref name="outputGrad"/> ∂L/∂y
    /// [n, outC, L].
    /// </summary>
    void OnConv(Parameter<T> weight, Parameter<T>? bias, Conv2dGeometry geometry, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, int n);
}
