using System.Numerics;

namespace WoodFisher.Models.Autograd;

public static partial class Ops
{
    /// <summary>Residual add y = a + b (same shape). ∂a += g, ∂b += g; R{y} = R{a} + R{b}.</summary>
    public static Tensor<T> Add<T>(Tape<T> tape, Tensor<T> a, Tensor<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (a.Length != b.Length)
            throw new ArgumentException($"Cannot add tensors of lengths {a.Length} and {b.Length}.");
        var y = tape.Output(a.Shape, a.RequiresGrad || b.RequiresGrad);
        System.Numerics.Tensors.TensorPrimitives.Add(a.Data, b.Data, y.Data);
        if (tape.ForwardOverReverse)
        {
            T[]? ra = tape.TangentOrNull(a), rb = tape.TangentOrNull(b);
            if (ra is not null || rb is not null)
            {
                var ry = tape.NewTangent(y);
                if (ra is not null)
                    Accumulate<T>(ry, ra);
                if (rb is not null)
                    Accumulate<T>(ry, rb);
            }
        }
        tape.Record(() =>
        {
            PassGradient(tape, y, a);
            PassGradient(tape, y, b);
        });
        return y;
    }

    /// <summary>Reshape (e.g. Flatten [n, c, h, w] → [n, c·h·w]); the values are shared (no op writes its input), gradients pass through unchanged.</summary>
    public static Tensor<T> Reshape<T>(Tape<T> tape, Tensor<T> x, int[] shape) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = new Tensor<T>(shape, x.Data, x.RequiresGrad);
        if (tape.ForwardOverReverse)
        {
            var rx = tape.TangentOrNull(x);
            if (rx is not null)
                tape.SetTangent(y, rx);
        }
        tape.Record(() => PassGradient(tape, y, x));
        return y;
    }

    /// <summary>∂src += ∂y and R{∂src} += R{∂y}: the backward of an op whose output is its input (up to shape or a sum).</summary>
    private static void PassGradient<T>(Tape<T> tape, Tensor<T> y, Tensor<T> src) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!src.RequiresGrad)
            return;
        var g = tape.GradOrNull(y);
        if (g is not null)
            Accumulate<T>(tape.Grad(src), g);
        var rg = tape.ForwardOverReverse ? tape.GradTangentOrNull(y) : null;
        if (rg is not null)
            Accumulate<T>(tape.GradTangent(src), rg);
    }
}
