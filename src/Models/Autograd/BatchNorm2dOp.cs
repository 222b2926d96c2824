using System.Numerics;

namespace WoodFisher.Models.Autograd;

public static partial class Ops
{
    /// <summary>
    /// Batch normalisation over (n, h, w) per channel, x [n, c, h, w], γ/β [c]: y = γ·(x − μ)/√(σ² + ε) + β.
    /// Training: μ, σ² are the batch statistics (biased), and the running statistics are updated in place with
    /// r ← (1 − m)·r + m·stat (unbiased variance, PyTorch's convention). Eval: μ, σ² are the running statistics, which makes
    /// the op affine in x (then the R-op is exact; forward-over-reverse in training mode is not supported).
    /// </summary>
    public static Tensor<T> BatchNorm2d<T>(Tape<T> tape, Tensor<T> x, Parameter<T> gamma, Parameter<T> beta,
        Tensor<T> runningMean, Tensor<T> runningVar, bool training, double momentum = 0.1, double eps = 1e-5)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Dim(0), c = x.Dim(1), hw = x.Length / (n * c);
        var m = n * hw;
        var mean = new T[c];
        var invStd = new T[c];
        var e = T.CreateTruncating(eps);
        if (training)
        {
            if (tape.ForwardOverReverse)
                throw new NotSupportedException("Hessian-vector products through BatchNorm2d need eval mode (model.Train(false)).");
            for (var ch = 0; ch < c; ch++)
            {
                T s = T.Zero, s2 = T.Zero;
                for (var i = 0; i < n; i++)
                {
                    var sl = x.Data.AsSpan((i * c + ch) * hw, hw);
                    s += System.Numerics.Tensors.TensorPrimitives.Sum<T>(sl);
                }
                var mu = s / T.CreateTruncating(m);
                for (var i = 0; i < n; i++)
                {
                    var sl = x.Data.AsSpan((i * c + ch) * hw, hw);
                    foreach (var v in sl)
                        s2 += (v - mu) * (v - mu);
                }
                var variance = s2 / T.CreateTruncating(m);
                mean[ch] = mu;
                invStd[ch] = T.One / T.Sqrt(variance + e);
                var mo = T.CreateTruncating(momentum);
                runningMean.Data[ch] = (T.One - mo) * runningMean.Data[ch] + mo * mu;
                var unbiased = m > 1 ? s2 / T.CreateTruncating(m - 1) : variance;
                runningVar.Data[ch] = (T.One - mo) * runningVar.Data[ch] + mo * unbiased;
            }
        }
        else
        {
            for (var ch = 0; ch < c; ch++)
            {
                mean[ch] = runningMean.Data[ch];
                invStd[ch] = T.One / T.Sqrt(runningVar.Data[ch] + e);
            }
        }
        var xhat = new T[x.Length];
        var y = new Tensor<T>(x.Shape, null, x.RequiresGrad || gamma.RequiresGrad || beta.RequiresGrad);
        for (var i = 0; i < n; i++)
            for (var ch = 0; ch < c; ch++)
            {
                var off = (i * c + ch) * hw;
                for (var j = 0; j < hw; j++)
                {
                    var xh = (x.Data[off + j] - mean[ch]) * invStd[ch];
                    xhat[off + j] = xh;
                    y.Data[off + j] = gamma.Data[ch] * xh + beta.Data[ch];
                }
            }
        T[]? rx = null, rgam = null;
        if (tape.ForwardOverReverse)
        {
            rx = tape.TangentOrNull(x);
            rgam = tape.TangentOrNull(gamma);
            var rbet = tape.TangentOrNull(beta);
            if (rx is not null || rgam is not null || rbet is not null)
            {
                var ry = tape.NewTangent(y);
                for (var i = 0; i < n; i++)
                    for (var ch = 0; ch < c; ch++)
                    {
                        var off = (i * c + ch) * hw;
                        for (var j = 0; j < hw; j++)
                        {
                            var v = T.Zero;
                            if (rx is not null)
                                v += gamma.Data[ch] * invStd[ch] * rx[off + j];
                            if (rgam is not null)
                                v += rgam[ch] * xhat[off + j];
                            if (rbet is not null)
                                v += rbet[ch];
                            ry[off + j] = v;
                        }
                    }
            }
        }
        tape.Record(() =>
        {
            var g = tape.GradOrNull(y);
            if (g is null)
                return;
            var sumG = new T[c];
            var sumGx = new T[c];
            for (var i = 0; i < n; i++)
                for (var ch = 0; ch < c; ch++)
                {
                    var off = (i * c + ch) * hw;
                    for (var j = 0; j < hw; j++)
                    {
                        sumG[ch] += g[off + j];
                        sumGx[ch] += g[off + j] * xhat[off + j];
                    }
                }
            if (gamma.RequiresGrad)
                Accumulate<T>(tape.Grad(gamma), sumGx);
            if (beta.RequiresGrad)
                Accumulate<T>(tape.Grad(beta), sumG);
            if (x.RequiresGrad)
            {
                var gx = tape.Grad(x);
                var mm = T.CreateTruncating(m);
                for (var i = 0; i < n; i++)
                    for (var ch = 0; ch < c; ch++)
                    {
                        var off = (i * c + ch) * hw;
                        var k = gamma.Data[ch] * invStd[ch];
                        for (var j = 0; j < hw; j++)
                        {
                            gx[off + j] += training
                                ? k * (g[off + j] - sumG[ch] / mm - xhat[off + j] * sumGx[ch] / mm)
                                : k * g[off + j];
                        }
                    }
            }
            if (!tape.ForwardOverReverse)
                return;
            var rg = tape.GradTangentOrNull(y);
            var rgGamma = gamma.RequiresGrad ? tape.GradTangent(gamma) : null;
            var rgBeta = beta.RequiresGrad ? tape.GradTangent(beta) : null;
            var rgx = x.RequiresGrad ? tape.GradTangent(x) : null;
            for (var i = 0; i < n; i++)
                for (var ch = 0; ch < c; ch++)
                {
                    var off = (i * c + ch) * hw;
                    for (var j = 0; j < hw; j++)
                    {
                        var rgv = rg is null ? T.Zero : rg[off + j];
                        var rxh = rx is null ? T.Zero : rx[off + j] * invStd[ch];
                        if (rgGamma is not null)
                            rgGamma[ch] += rgv * xhat[off + j] + g[off + j] * rxh;
                        if (rgBeta is not null)
                            rgBeta[ch] += rgv;
                        if (rgx is not null)
                            rgx[off + j] += (rgv * gamma.Data[ch] + g[off + j] * (rgam is null ? T.Zero : rgam[ch])) * invStd[ch];
                    }
                }
        });
        return y;
    }
}
