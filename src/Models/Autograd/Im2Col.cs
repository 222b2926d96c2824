using System.Numerics;

namespace WoodFisher.Models.Autograd;

/// <summary>
/// unfold / fold for one image: columns [c·kh·kw, ho·wo] with row index (ci·kh + u)·kw + v (PyTorch's weight layout
/// [out, in, kh, kw] flattened), column index oy·wo + ox; zero padding outside the image.
/// </summary>
public static class Im2Col
{
    /// <summary>Output size along one axis: ⌊(size + 2·pad − kernel)/stride⌋ + 1.</summary>
    public static int OutputSize(int size, int kernel, int stride, int pad) => (size + 2 * pad - kernel) / stride + 1;

    /// <summary>cols = unfold(x) for x [c, h, w].</summary>
    public static void Unfold<T>(ReadOnlySpan<T> x, Span<T> cols, int c, int h, int w, int kh, int kw, int stride, int pad)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int ho = OutputSize(h, kh, stride, pad), wo = OutputSize(w, kw, stride, pad), l = ho * wo;
        for (var ci = 0; ci < c; ci++)
            for (var u = 0; u < kh; u++)
                for (var v = 0; v < kw; v++)
                {
                    var row = cols.Slice(((ci * kh + u) * kw + v) * l, l);
                    for (var oy = 0; oy < ho; oy++)
                    {
                        var iy = oy * stride - pad + u;
                        var dst = row.Slice(oy * wo, wo);
                        if ((uint)iy >= (uint)h)
                        {
                            dst.Clear();
                            continue;
                        }
                        var src = x.Slice((ci * h + iy) * w, w);
                        if (stride == 1)
                        {
                            // Contiguous run: ox ∈ [lo, hi) maps to ix = ox − pad + v inside the image.
                            int lo = Math.Clamp(pad - v, 0, wo), hi = Math.Clamp(w + pad - v, lo, wo);
                            dst[..lo].Clear();
                            if (hi > lo)
                                src.Slice(lo - pad + v, hi - lo).CopyTo(dst[lo..hi]);
                            dst[hi..].Clear();
                            continue;
                        }
                        for (var ox = 0; ox < wo; ox++)
                        {
                            var ix = ox * stride - pad + v;
                            dst[ox] = (uint)ix < (uint)w ? src[ix] : T.Zero;
                        }
                    }
                }
    }

    /// <summary>x += fold(cols): the adjoint of <see cref="Unfold{T}"/>, x [c, h, w].</summary>
    public static void FoldAdd<T>(ReadOnlySpan<T> cols, Span<T> x, int c, int h, int w, int kh, int kw, int stride, int pad)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int ho = OutputSize(h, kh, stride, pad), wo = OutputSize(w, kw, stride, pad), l = ho * wo;
        for (var ci = 0; ci < c; ci++)
            for (var u = 0; u < kh; u++)
                for (var v = 0; v < kw; v++)
                {
                    var row = cols.Slice(((ci * kh + u) * kw + v) * l, l);
                    for (var oy = 0; oy < ho; oy++)
                    {
                        var iy = oy * stride - pad + u;
                        if ((uint)iy >= (uint)h)
                            continue;
                        var dst = x.Slice((ci * h + iy) * w, w);
                        if (stride == 1)
                        {
                            int lo = Math.Clamp(pad - v, 0, wo), hi = Math.Clamp(w + pad - v, lo, wo);
                            if (hi == lo)
                                continue;
                            var seg = dst.Slice(lo - pad + v, hi - lo);
                            System.Numerics.Tensors.TensorPrimitives.Add(seg, row.Slice(oy * wo + lo, hi - lo), seg);
                            continue;
                        }
                        for (var ox = 0; ox < wo; ox++)
                        {
                            var ix = ox * stride - pad + v;
                            if ((uint)ix < (uint)w)
                                dst[ix] += row[oy * wo + ox];
                        }
                    }
                }
    }
}
