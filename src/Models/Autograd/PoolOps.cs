using System.Numerics;

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
        var y = new Tensor<T>([n, c, ho, wo], null, x.RequiresGrad);
        var arg = new int[y.Length];
        for (var p = 0; p < n * c; p++)
            for (var oy = 0; oy < ho; oy++)
                for (var ox = 0; ox < wo; ox++)
                {
                    var best = -1;
                    var bv = T.NegativeInfinity;
                    for (var u = 0; u < kernel; u++)
                        for (var v = 0; v < kernel; v++)
                        {
                            var idx = (p * h + oy * stride + u) * w + ox * stride + v;
                            if (best < 0 || x.Data[idx] > bv)
                            {
                                bv = x.Data[idx];
                                best = idx;
                            }
                        }
                    var oi = (p * ho + oy) * wo + ox;
                    y.Data[oi] = bv;
                    arg[oi] = best;
                }
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

    /// <summary>
    /// Average pooling over kernel×kernel windows with the given stride (no padding); kernel = h = w gives global average
    /// pooling. x [n, c, h, w] → y [n, c, ho, wo]. Linear: ∂x += g/k² spread over each window; R{y} = avgpool(R{x}).
    /// </summary>
    public static Tensor<T> AvgPool2d<T>(Tape<T> tape, Tensor<T> x, int kernel, int stride) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Dim(0), c = x.Dim(1), h = x.Dim(2), w = x.Dim(3);
        int ho = Conv2dGeometry.OutputSize(h, kernel, stride, 0), wo = Conv2dGeometry.OutputSize(w, kernel, stride, 0);
        var y = new Tensor<T>([n, c, ho, wo], null, x.RequiresGrad);
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
