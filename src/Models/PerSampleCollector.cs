using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using WoodFisher.Kernels;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models;

/// <summary>
/// BackPACK-style BatchGrad: from one batched backward of the summed loss, writes each group's gradient
/// (1/B)·Σ_{n∈group} ∂ℓₙ/∂θ into a row: Linear ⇒ Σ δₙ ⊗ aₙ (+ Σ δₙ for the bias); Conv2d ⇒ Σ δₙ[O, L]·Uₙᵀ[L, K] (+ Σ_l δₙ),
/// each a product with the windows of the padded input (<see cref="Conv2dGeometry"/>), made once per run of images.
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
                        LinearAlgebra.Multiply(true, false, outF, inF, groupSize, g, x, w, parallel: false);
                        TensorPrimitives.Multiply(w, inv, w);
                    }
                }
                if (ob >= 0)
                {
                    var b = row.Slice(ob, outF);
                    b.Clear();
                    for (var s = 0; s < groupSize; s++)
                        TensorPrimitives.Add(b, g.Slice(s * outF, outF), b);
                    if (groupSize > 1)
                        TensorPrimitives.Multiply(b, inv, b);
                }
            });
        }
    }

    /// <summary>
    /// dst = s·x with streaming stores: G is written once and not read back here, so bypassing the cache avoids the
    /// read-for-ownership traffic that otherwise doubles the cost of writing a 1 GB G. The caller fences once after a whole
    /// row: a fence per call (one per output unit, 410k per 1,000 MLP samples) cost as much as writing G itself.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScaleNonTemporal(ReadOnlySpan<T> x, T s, Span<T> dst)
    {
        if (!Vector256.IsHardwareAccelerated || dst.Length < 4 * Vector256<T>.Count)
        {
            TensorPrimitives.Multiply(x, s, dst);
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

    public void OnConv(Parameter<T> weight, Parameter<T>? bias, Conv2dGeometry geometry, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, int n)
    {
        int ow = selection.OffsetOf(weight), ob = bias is null ? -1 : selection.OffsetOf(bias);
        if (ow < 0 && ob < 0)
            return;
        int d = selection.Dimension, outC = weight.Dim(0), k = geometry.Patch, l = geometry.Positions, inLen = geometry.InputSize;
        var groups = n / groupSize;
        var runGroups = Math.Max(1, geometry.RunLength(n, outC) / groupSize);
        var inv = T.One / T.CreateTruncating(groupSize);
        fixed (T* px = input, pg = outputGrad)
        {
            nint ix = (nint)px, ig = (nint)pg, ir = (nint)Rows;
            Ops.ForEachRun(groups, runGroups, (g0, gcnt) =>
            {
                // The run's padded input and output gradients on the grid once; image i's gradient δᵢ·X̃ᵢᵀ is then one
                // product over its plane of each.
                int cnt = gcnt * groupSize, i0 = g0 * groupSize, plane = geometry.Plane;
                int len = geometry.PaddedLength(cnt), grid = geometry.GridLength(cnt), single = geometry.GridLength(1);
                var taps = geometry.TapOffsets(cnt);
                var xp = ow >= 0 ? ArrayPool<T>.Shared.Rent(len) : null;
                var gr = ow >= 0 ? ArrayPool<T>.Shared.Rent(outC * grid) : null;
                try
                {
                    if (xp is not null && gr is not null)
                    {
                        geometry.Pad<T>(new ReadOnlySpan<T>((T*)ix + (long)i0 * inLen, cnt * inLen), cnt, xp);
                        geometry.ToGrid<T>(new ReadOnlySpan<T>((T*)ig + (long)i0 * outC * l, cnt * outC * l), outC, cnt, gr, grid, 0);
                    }
                    for (var gi = g0; gi < g0 + gcnt; gi++)
                    {
                        var row = new Span<T>((T*)ir + (long)gi * d, d);
                        for (var s = 0; s < groupSize; s++)
                        {
                            var idx = gi * groupSize + s;
                            if (xp is not null && gr is not null)
                            {
                                var at = (idx - i0) * plane;
                                LinearAlgebra.MultiplyTransposed(outC, T.One, gr.AsSpan(at), grid, new RowWindows<T>(xp.AsSpan(at, len - at), taps, single),
                                    s == 0 ? T.Zero : T.One, row.Slice(ow, outC * k), k, parallel: false);
                            }
                            if (ob >= 0)
                            {
                                if (s == 0)
                                    row.Slice(ob, outC).Clear();
                                var g = new ReadOnlySpan<T>((T*)ig + (long)idx * outC * l, outC * l);
                                Ops.SumColumns(g, row.Slice(ob, outC), outC, l, outC);
                            }
                        }
                        if (groupSize > 1)
                        {
                            if (ow >= 0)
                                TensorPrimitives.Multiply(row.Slice(ow, outC * k), inv, row.Slice(ow, outC * k));
                            if (ob >= 0)
                                TensorPrimitives.Multiply(row.Slice(ob, outC), inv, row.Slice(ob, outC));
                        }
                    }
                }
                finally
                {
                    if (xp is not null)
                        ArrayPool<T>.Shared.Return(xp);
                    if (gr is not null)
                        ArrayPool<T>.Shared.Return(gr);
                }
            });
        }
    }
}
