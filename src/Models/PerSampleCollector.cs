using System.Numerics;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models;

/// <summary>
/// BackPACK-style BatchGrad: from one batched backward of the summed loss, writes each group's gradient
/// (1/B)·Σ_{n∈group} ∂ℓₙ/∂θ into a row: Linear ⇒ Σ δₙ ⊗ aₙ (+ Σ δₙ for the bias); Conv2d ⇒ Σ δₙ[O, L]·Uₙᵀ[L, K] (+ Σ_l δₙ).
/// </summary>
internal sealed unsafe class PerSampleCollector<T>(ParameterSelection<T> selection, int groupSize) : IBackwardObserver<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public T* Rows;

    public void OnLinear(Parameter<T> weight, Parameter<T>? bias, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, int n, int inF, int outF)
    {
        int ow = selection.OffsetOf(weight), ob = bias is null ? -1 : selection.OffsetOf(bias);
        if (ow < 0 && ob < 0)
            return;
        var d = selection.Dimension;
        var groups = n / groupSize;
        var inv = T.One / T.CreateTruncating(groupSize);
        fixed (T* px = input, pg = outputGrad)
        {
            nint ix = (nint)px, ig = (nint)pg, ir = (nint)Rows;
            Parallel.For(0, groups, gi =>
            {
                var row = new Span<T>((T*)ir + (long)gi * d, d);
                var x = new ReadOnlySpan<T>((T*)ix + (long)gi * groupSize * inF, groupSize * inF);
                var g = new ReadOnlySpan<T>((T*)ig + (long)gi * groupSize * outF, groupSize * outF);
                if (ow >= 0)
                {
                    var w = row.Slice(ow, outF * inF);
                    if (groupSize == 1)
                    {
                        for (var o = 0; o < outF; o++)
                            System.Numerics.Tensors.TensorPrimitives.Multiply(x, g[o], w.Slice(o * inF, inF));
                    }
                    else
                    {
                        Gemm.Multiply(true, false, outF, inF, groupSize, g, x, w, parallel: false);
                        System.Numerics.Tensors.TensorPrimitives.Multiply(w, inv, w);
                    }
                }
                if (ob >= 0)
                {
                    var b = row.Slice(ob, outF);
                    b.Clear();
                    for (var s = 0; s < groupSize; s++)
                        System.Numerics.Tensors.TensorPrimitives.Add(b, g.Slice(s * outF, outF), b);
                    if (groupSize > 1)
                        System.Numerics.Tensors.TensorPrimitives.Multiply(b, inv, b);
                }
            });
        }
    }

    public void OnConv(Parameter<T> weight, Parameter<T>? bias, ReadOnlySpan<T> columns, ReadOnlySpan<T> outputGrad, int n, int outC, int k, int l)
    {
        int ow = selection.OffsetOf(weight), ob = bias is null ? -1 : selection.OffsetOf(bias);
        if (ow < 0 && ob < 0)
            return;
        var d = selection.Dimension;
        var groups = n / groupSize;
        var inv = T.One / T.CreateTruncating(groupSize);
        fixed (T* pu = columns, pg = outputGrad)
        {
            nint iu = (nint)pu, ig = (nint)pg, ir = (nint)Rows;
            Parallel.For(0, groups, gi =>
            {
                var row = new Span<T>((T*)ir + (long)gi * d, d);
                if (ow >= 0)
                    row.Slice(ow, outC * k).Clear();
                if (ob >= 0)
                    row.Slice(ob, outC).Clear();
                for (var s = 0; s < groupSize; s++)
                {
                    var idx = (long)gi * groupSize + s;
                    var g = new ReadOnlySpan<T>((T*)ig + idx * outC * l, outC * l);
                    if (ow >= 0)
                    {
                        var u = new ReadOnlySpan<T>((T*)iu + idx * k * l, k * l);
                        Gemm.Multiply(false, true, outC, k, l, g, u, row.Slice(ow, outC * k), accumulate: true, parallel: false);
                    }
                    if (ob >= 0)
                        Ops.SumColumns(g, row.Slice(ob, outC), outC, l, outC);
                }
                if (groupSize > 1)
                {
                    if (ow >= 0)
                        System.Numerics.Tensors.TensorPrimitives.Multiply(row.Slice(ow, outC * k), inv, row.Slice(ow, outC * k));
                    if (ob >= 0)
                        System.Numerics.Tensors.TensorPrimitives.Multiply(row.Slice(ob, outC), inv, row.Slice(ob, outC));
                }
            });
        }
    }
}
