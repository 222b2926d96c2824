using System.Numerics;

namespace WoodFisher.Models.Autograd;

public static partial class Ops
{
    /// <summary>
    /// y = max(x, 0) elementwise, any shape. ∂x += g·[x &gt; 0]; R{y} = R{x}·[x &gt; 0]; R{∂x} += R{g}·[x &gt; 0]
    /// (the second derivative of ReLU is zero almost everywhere).
    /// </summary>
    public static Tensor<T> Relu<T>(Tape<T> tape, Tensor<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = new Tensor<T>(x.Shape, null, x.RequiresGrad);
        System.Numerics.Tensors.TensorPrimitives.Max(x.Data, T.Zero, y.Data);
        if (tape.ForwardOverReverse)
        {
            var rx = tape.TangentOrNull(x);
            if (rx is not null)
                MaskPositive(x.Data, rx, tape.NewTangent(y));
        }
        tape.Record(() =>
        {
            if (!x.RequiresGrad)
                return;
            var g = tape.GradOrNull(y);
            if (g is not null)
                MaskPositiveAdd(x.Data, g, tape.Grad(x));
            var rg = tape.ForwardOverReverse ? tape.GradTangentOrNull(y) : null;
            if (rg is not null)
                MaskPositiveAdd(x.Data, rg, tape.GradTangent(x));
        });
        return y;
    }

    private static void MaskPositive<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> v, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (var i = 0; i < x.Length; i++)
            dst[i] = x[i] > T.Zero ? v[i] : T.Zero;
    }

    private static void MaskPositiveAdd<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> v, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (var i = 0; i < x.Length; i++)
        {
            if (x[i] > T.Zero)
                dst[i] += v[i];
        }
    }
}
