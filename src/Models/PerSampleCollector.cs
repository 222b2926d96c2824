using System.Numerics;
using System.Runtime.Intrinsics;
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
                            ScaleNonTemporal(x, g[o], w.Slice(o * inF, inF));
                        if (System.Runtime.Intrinsics.X86.Sse.IsSupported)
                            System.Runtime.Intrinsics.X86.Sse.StoreFence();
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

    /// <summary>
    /// dst = s·x with streaming stores: G is written once and not read back here, so bypassing the cache avoids the
    /// read-for-ownership traffic that otherwise doubles the cost of writing a 1 GB G. The caller fences once after a whole
    /// row: a fence per call (one per output unit, 410k per 1,000 MLP samples) cost as much as writing G itself.
    /// </summary>
    private static void ScaleNonTemporal(ReadOnlySpan<T> x, T s, Span<T> dst)
    {
        if (!Vector256.IsHardwareAccelerated || dst.Length < 4 * Vector256<T>.Count)
        {
            System.Numerics.Tensors.TensorPrimitives.Multiply(x, s, dst);
            return;
        }
        fixed (T* px = x, pd = dst)
        {
            var i = 0;
            var n = dst.Length;
            while (i < n && ((nint)(pd + i) & 31) != 0)
            {
                pd[i] = px[i] * s;
                i++;
            }
            var sv = Vector256.Create(s);
            var w = Vector256<T>.Count;
            for (; i + w <= n; i += w)
                Vector256.StoreAlignedNonTemporal(Vector256.Load(px + i) * sv, pd + i);
            for (; i < n; i++)
                pd[i] = px[i] * s;
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
