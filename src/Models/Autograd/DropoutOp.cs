using System.Numerics;

namespace WoodFisher.Models.Autograd;

public static partial class Ops
{
    /// <summary>
    /// Inverted dropout y = x·m/(1−p), m ~ Bernoulli(1−p) drawn from <paramref name="rng"/>. Linear in x for a fixed mask:
    /// ∂x += g·m/(1−p), R{y} = R{x}·m/(1−p).
    /// </summary>
    public static Tensor<T> Dropout<T>(Tape<T> tape, Tensor<T> x, double p, Random rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(p, 0.0);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(p, 1.0);
        var scale = T.CreateTruncating(1.0 / (1.0 - p));
        var mask = new T[x.Length];
        for (var i = 0; i < mask.Length; i++)
            mask[i] = rng.NextDouble() >= p ? scale : T.Zero;
        var y = tape.Output(x.Shape, x.RequiresGrad);
        System.Numerics.Tensors.TensorPrimitives.Multiply(x.Data, mask, y.Data);
        if (tape.ForwardOverReverse)
        {
            var rx = tape.TangentOrNull(x);
            if (rx is not null)
                System.Numerics.Tensors.TensorPrimitives.Multiply(rx, mask, tape.NewTangent(y));
        }
        tape.Record(() =>
        {
            if (!x.RequiresGrad)
                return;
            var g = tape.GradOrNull(y);
            if (g is not null)
                System.Numerics.Tensors.TensorPrimitives.FusedMultiplyAdd(g, mask, tape.Grad(x), tape.Grad(x));
            var rg = tape.ForwardOverReverse ? tape.GradTangentOrNull(y) : null;
            if (rg is not null)
                System.Numerics.Tensors.TensorPrimitives.FusedMultiplyAdd(rg, mask, tape.GradTangent(x), tape.GradTangent(x));
        });
        return y;
    }
}
