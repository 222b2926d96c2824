using System.Numerics;
using System.Runtime.CompilerServices;

namespace WoodFisher.Models.Autograd;

public static partial class Ops
{
    /// <summary>
    /// Max pooling over kernel×kernel windows with the given stride (no padding). x [n, c, h, w] → y [n, c, ho, wo].
    /// Routes through the argmax: ∂x[argmax] += g; R{y} = R{x}[argmax] (locally linear).
    /// </summary>
    public static Tensor<T> MaxPool2d<T>(Tape<T> tape, Tensor<T> x, int kernel, int stride) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Dim(0), c = x.Dim(1), h = x.Dim(2), w = x.Dim(3);
        int ho = Conv2dGeometry.OutputSize(h, kernel, stride, 0), wo = Conv2dGeometry.OutputSize(w, kernel, stride, 0);
        var y = tape.Output([n, c, ho, wo], x.RequiresGrad);
        var arg = tape.AllocateIndices(y.Length);
        var planes = n * c;
        ForEachSlice(planes, (p0, count) => MaxPoolPlanes<T>(x.Data, y.Data, arg, p0, p0 + count, h, w, ho, wo, kernel, stride), unit: h * w);
        if (tape.ForwardOverReverse)
        {
            var rx = tape.TangentOrNull(x);
            if (rx is not null)
            {
                var ry = tape.NewTangent(y);
                for (var i = 0; i < ry.Length; i++)
                    ry[i] = rx[arg[i]];
            }
        }
        tape.Record(() =>
        {
            if (!x.RequiresGrad)
                return;
            var g = tape.GradOrNull(y);
            if (g is not null)
            {
                var gx = tape.Grad(x);
                for (var i = 0; i < g.Length; i++)
                    gx[arg[i]] += g[i];
            }
            var rg = tape.ForwardOverReverse ? tape.GradTangentOrNull(y) : null;
            if (rg is not null)
            {
                var rgx = tape.GradTangent(x);
                for (var i = 0; i < rg.Length; i++)
                    rgx[arg[i]] += rg[i];
            }
        });
        return y;
    }

    /// <summary>Max pooling of planes [p0, p1): y and the flat index of each window's first maximum (scan order).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MaxPoolPlanes<T>(T[] x, T[] y, int[] arg, int p0, int p1, int h, int w, int ho, int wo, int kernel, int stride)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* px = x, py = y)
        fixed (int* pa = arg)
        {
            for (var p = p0; p < p1; p++)
                for (var oy = 0; oy < ho; oy++)
                {
                    var oi = (p * ho + oy) * wo;
                    var row = (p * h + oy * stride) * w;
                    if (kernel == 2)
                    {
                        // The common 2 × 2 window without branches (on random data a compare-and-branch mispredicts half
                        // the time): each comparison becomes an index offset, and the winner is loaded back. Ties keep the
                        // first maximum in scan order, as the general loop does.
                        for (var ox = 0; ox < wo; ox++)
                        {
                            var i0 = row + ox * stride;
                            var top = i0 + Bit(px[i0 + 1] > px[i0]);
                            var bottom = i0 + w + Bit(px[i0 + w + 1] > px[i0 + w]);
                            var best = top + Bit(px[bottom] > px[top]) * (bottom - top);
                            py[oi + ox] = px[best];
                            pa[oi + ox] = best;
                        }
                        continue;
                    }
                    for (var ox = 0; ox < wo; ox++)
                    {
                        var best = row + ox * stride;
                        var bv = px[best];
                        for (var u = 0; u < kernel; u++)
                            for (var v = 0; v < kernel; v++)
                            {
                                var idx = row + u * w + ox * stride + v;
                                if (px[idx] > bv)
                                {
                                    bv = px[idx];
                                    best = idx;
                                }
                            }
                        py[oi + ox] = bv;
                        pa[oi + ox] = best;
                    }
                }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Bit(bool b) => b ? 1 : 0;

    /// <summary>
    /// Average pooling over kernel×kernel windows with the given stride (no padding); kernel = h = w gives global average
    /// pooling. x [n, c, h, w] → y [n, c, ho, wo]. Linear: ∂x += g/k² spread over each window; R{y} = avgpool(R{x}).
    /// </summary>
    public static Tensor<T> AvgPool2d<T>(Tape<T> tape, Tensor<T> x, int kernel, int stride) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Dim(0), c = x.Dim(1), h = x.Dim(2), w = x.Dim(3);
        int ho = Conv2dGeometry.OutputSize(h, kernel, stride, 0), wo = Conv2dGeometry.OutputSize(w, kernel, stride, 0);
        var y = tape.Output([n, c, ho, wo], x.RequiresGrad);
        var inv = T.One / T.CreateTruncating(kernel * kernel);
        void Fwd(ReadOnlySpan<T> src, Span<T> dst)
        {
            for (var p = 0; p < n * c; p++)
                for (var oy = 0; oy < ho; oy++)
                    for (var ox = 0; ox < wo; ox++)
                    {
                        var s = T.Zero;
                        for (var u = 0; u < kernel; u++)
                            for (var v = 0; v < kernel; v++)
                                s += src[(p * h + oy * stride + u) * w + ox * stride + v];
                        dst[(p * ho + oy) * wo + ox] = s * inv;
                    }
        }
        void Bwd(ReadOnlySpan<T> g, Span<T> gx)
        {
            for (var p = 0; p < n * c; p++)
                for (var oy = 0; oy < ho; oy++)
                    for (var ox = 0; ox < wo; ox++)
                    {
                        var gv = g[(p * ho + oy) * wo + ox] * inv;
                        for (var u = 0; u < kernel; u++)
                            for (var v = 0; v < kernel; v++)
                                gx[(p * h + oy * stride + u) * w + ox * stride + v] += gv;
                    }
        }
        Fwd(x.Data, y.Data);
        if (tape.ForwardOverReverse)
        {
            var rx = tape.TangentOrNull(x);
            if (rx is not null)
                Fwd(rx, tape.NewTangent(y));
        }
        tape.Record(() =>
        {
            if (!x.RequiresGrad)
                return;
            var g = tape.GradOrNull(y);
            if (g is not null)
                Bwd(g, tape.Grad(x));
            var rg = tape.ForwardOverReverse ? tape.GradTangentOrNull(y) : null;
            if (rg is not null)
                Bwd(rg, tape.GradTangent(x));
        });
        return y;
    }
}
