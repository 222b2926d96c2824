using System.Numerics;
using System.Numerics.Tensors;
using WoodFisher.Kernels;

namespace WoodFisher.Models.Autograd;

public static partial class Ops
{
    /// <summary>
    /// Linear map y = x Wᵀ + b. x [n, in], W [out, in], b [out] or null → y [n, out].
    /// Backward: ∂W += gᵀx, ∂b += Σₙ gₙ, ∂x += gW. R-op: R{y} = R{x}Wᵀ + x R{W}ᵀ + R{b};
    /// R{∂W} += R{g}ᵀx + gᵀR{x}, R{∂x} += R{g}W + g R{W}.
    /// </summary>
    public static Tensor<T> Linear<T>(Tape<T> tape, Tensor<T> x, Parameter<T> weight, Parameter<T>? bias)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int outF = weight.Dim(0), inF = weight.Dim(1);
        var n = x.Length / inF;
        if (n * inF != x.Length)
            throw new ArgumentException($"Input of length {x.Length} is not a multiple of in_features {inF}.", nameof(x));
        var y = tape.Output([n, outF], x.RequiresGrad || weight.RequiresGrad || (bias?.RequiresGrad ?? false));
        LinearAlgebra.Multiply(false, true, n, outF, inF, x.Data, weight.Data, y.Data);
        if (bias is not null)
            AddRowVector(y.Data, bias.Data, n, outF);
        if (tape.ForwardOverReverse)
        {
            var ry = tape.NewTangent(y);
            var rx = tape.TangentOrNull(x);
            if (rx is not null)
                LinearAlgebra.Multiply(false, true, n, outF, inF, rx, weight.Data, ry, accumulate: true);
            var rw = tape.TangentOrNull(weight);
            if (rw is not null)
                LinearAlgebra.Multiply(false, true, n, outF, inF, x.Data, rw, ry, accumulate: true);
            var rb = bias is null ? null : tape.TangentOrNull(bias);
            if (rb is not null)
                AddRowVector(ry, rb, n, outF);
        }
        tape.Record(() =>
        {
            var g = tape.GradOrNull(y);
            if (g is null)
                return;
            tape.Observer?.OnLinear(weight, bias, x.Data, g, n, inF, outF);
            // ∂W += δᵀa and ∂x += δW, for δ = g (and, for the R-op, R{g} with a and W, and g with R{x} and R{W}).
            void WeightGrad(T[] delta, T[] input, T[] target) => LinearAlgebra.Multiply(true, false, outF, inF, n, delta, input, target, accumulate: true);
            void InputGrad(T[] delta, T[] w, T[] target) => LinearAlgebra.Multiply(false, false, n, inF, outF, delta, w, target, accumulate: true);
            if (weight.RequiresGrad && !tape.ObserverOnly)
                WeightGrad(g, x.Data, tape.Grad(weight));
            if (bias is not null && bias.RequiresGrad && !tape.ObserverOnly)
                SumRows(g, tape.Grad(bias), n, outF);
            if (x.RequiresGrad)
                InputGrad(g, weight.Data, tape.Grad(x));
            if (!tape.ForwardOverReverse)
                return;
            var rg = tape.GradTangentOrNull(y);
            var rx = tape.TangentOrNull(x);
            var rw = tape.TangentOrNull(weight);
            if (weight.RequiresGrad && rg is not null)
                WeightGrad(rg, x.Data, tape.GradTangent(weight));
            if (weight.RequiresGrad && rx is not null)
                WeightGrad(g, rx, tape.GradTangent(weight));
            if (bias is not null && bias.RequiresGrad && rg is not null)
                SumRows(rg, tape.GradTangent(bias), n, outF);
            if (x.RequiresGrad && rg is not null)
                InputGrad(rg, weight.Data, tape.GradTangent(x));
            if (x.RequiresGrad && rw is not null)
                InputGrad(g, rw, tape.GradTangent(x));
        });
        return y;
    }

    internal static void AddRowVector<T>(Span<T> m, ReadOnlySpan<T> v, int rows, int cols)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (var r = 0; r < rows; r++)
        {
            var row = m.Slice(r * cols, cols);
            TensorPrimitives.Add(row, v, row);
        }
    }

    internal static void SumRows<T>(ReadOnlySpan<T> m, Span<T> acc, int rows, int cols)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (var r = 0; r < rows; r++)
            TensorPrimitives.Add(acc, m.Slice(r * cols, cols), acc);
    }

    internal static void Accumulate<T>(Span<T> acc, ReadOnlySpan<T> v)
        where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Add(acc, v, acc);
}
