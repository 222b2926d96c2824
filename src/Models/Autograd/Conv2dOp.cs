using System.Numerics;

namespace WoodFisher.Models.Autograd;

public static partial class Ops
{
    /// <summary>
    /// 2-D convolution (cross-correlation, PyTorch semantics) by im2col + GEMM: per sample yₙ [O, L] = W [O, K]·Uₙ [K, L] + b,
    /// Uₙ = unfold(xₙ), K = C·kh·kw, L = ho·wo. x [n, C, h, w], W [O, C, kh, kw], b [O] → y [n, O, ho, wo].
    /// Backward: ∂W += Σₙ gₙUₙᵀ, ∂b += Σ gₙ, ∂xₙ += fold(Wᵀgₙ). R-op: R{yₙ} = W·unfold(R{xₙ}) + R{W}Uₙ + R{b};
    /// R{∂W} += Σ R{gₙ}Uₙᵀ + gₙR{Uₙ}ᵀ; R{∂xₙ} += fold(WᵀR{gₙ} + R{W}ᵀgₙ).
    /// </summary>
    public static Tensor<T> Conv2d<T>(Tape<T> tape, Tensor<T> x, Parameter<T> weight, Parameter<T>? bias, int stride, int padding)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Dim(0), c = x.Dim(1), h = x.Dim(2), w = x.Dim(3);
        int o = weight.Dim(0), kh = weight.Dim(2), kw = weight.Dim(3);
        if (weight.Dim(1) != c)
            throw new ArgumentException($"Conv2d weight expects {weight.Dim(1)} input channels, input has {c}.", nameof(x));
        int ho = Im2Col.OutputSize(h, kh, stride, padding), wo = Im2Col.OutputSize(w, kw, stride, padding);
        int k = c * kh * kw, l = ho * wo, inLen = c * h * w;
        var cols = new T[(long)n * k * l];
        var y = new Tensor<T>([n, o, ho, wo], null, x.RequiresGrad || weight.RequiresGrad || (bias?.RequiresGrad ?? false));
        var rx = tape.ForwardOverReverse ? tape.TangentOrNull(x) : null;
        var rw = tape.ForwardOverReverse ? tape.TangentOrNull(weight) : null;
        var rb = tape.ForwardOverReverse && bias is not null ? tape.TangentOrNull(bias) : null;
        var rcols = rx is null ? null : new T[cols.Length];
        var ry = tape.ForwardOverReverse && (rx is not null || rw is not null || rb is not null) ? tape.NewTangent(y) : null;
        Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = n >= 4 ? -1 : 1 }, i =>
        {
            var ui = cols.AsSpan(i * k * l, k * l);
            Im2Col.Unfold<T>(x.Data.AsSpan(i * inLen, inLen), ui, c, h, w, kh, kw, stride, padding);
            var yi = y.Data.AsSpan(i * o * l, o * l);
            Gemm.Multiply<T>(false, false, o, l, k, weight.Data, ui, yi, parallel: false);
            if (bias is not null)
                AddColumnVector<T>(yi, bias.Data, o, l);
            if (ry is null)
                return;
            var ryi = ry.AsSpan(i * o * l, o * l);
            if (rcols is not null)
            {
                var rui = rcols.AsSpan(i * k * l, k * l);
                Im2Col.Unfold<T>(rx.AsSpan(i * inLen, inLen), rui, c, h, w, kh, kw, stride, padding);
                Gemm.Multiply<T>(false, false, o, l, k, weight.Data, rui, ryi, accumulate: true, parallel: false);
            }
            if (rw is not null)
                Gemm.Multiply<T>(false, false, o, l, k, rw, ui, ryi, accumulate: true, parallel: false);
            if (rb is not null)
                AddColumnVector<T>(ryi, rb, o, l);
        });
        tape.Record(() =>
        {
            var g = tape.GradOrNull(y);
            if (g is null)
                return;
            tape.Observer?.OnConv(weight, bias, cols, g, n, o, k, l);
            var rg = tape.ForwardOverReverse ? tape.GradTangentOrNull(y) : null;
            var rwb = tape.ForwardOverReverse ? tape.TangentOrNull(weight) : null;
            var gw = weight.RequiresGrad && !tape.ObserverOnly ? tape.Grad(weight) : null;
            var rgw = weight.RequiresGrad && tape.ForwardOverReverse ? tape.GradTangent(weight) : null;
            var gx = x.RequiresGrad ? tape.Grad(x) : null;
            var rgx = x.RequiresGrad && tape.ForwardOverReverse ? tape.GradTangent(x) : null;
            if (bias is not null && bias.RequiresGrad && !tape.ObserverOnly)
            {
                SumColumns<T>(g, tape.Grad(bias), n * o, l, o);
                if (rg is not null)
                    SumColumns<T>(rg, tape.GradTangent(bias), n * o, l, o);
            }
            var wT = new T[k * o];
            Gemm.Transpose<T>(weight.Data, wT, o, k);
            var workers = Math.Min(Environment.ProcessorCount, Math.Max(1, n / 2));
            var partW = new T[workers][];
            var partRw = new T[workers][];
            Parallel.For(0, workers, t =>
            {
                var pw = gw is null ? null : new T[gw.Length];
                var prw = rgw is null ? null : new T[rgw.Length];
                partW[t] = pw!;
                partRw[t] = prw!;
                var gcol = new T[k * l];
                for (var i = t; i < n; i += workers)
                {
                    var gi = g.AsSpan(i * o * l, o * l);
                    var ui = cols.AsSpan(i * k * l, k * l);
                    if (pw is not null)
                        Gemm.Multiply<T>(false, true, o, k, l, gi, ui, pw, accumulate: true, parallel: false);
                    if (prw is not null)
                    {
                        if (rg is not null)
                            Gemm.Multiply<T>(false, true, o, k, l, rg.AsSpan(i * o * l, o * l), ui, prw, accumulate: true, parallel: false);
                        if (rcols is not null)
                            Gemm.Multiply<T>(false, true, o, k, l, gi, rcols.AsSpan(i * k * l, k * l), prw, accumulate: true, parallel: false);
                    }
                    if (gx is not null)
                    {
                        Gemm.Multiply<T>(false, false, k, l, o, wT, gi, gcol, parallel: false);
                        Im2Col.FoldAdd<T>(gcol, gx.AsSpan(i * inLen, inLen), c, h, w, kh, kw, stride, padding);
                    }
                    if (rgx is not null && (rg is not null || rwb is not null))
                    {
                        Array.Clear(gcol);
                        if (rg is not null)
                            Gemm.Multiply<T>(false, false, k, l, o, wT, rg.AsSpan(i * o * l, o * l), gcol, accumulate: true, parallel: false);
                        if (rwb is not null)
                            Gemm.Multiply<T>(true, false, k, l, o, rwb, gi, gcol, accumulate: true, parallel: false);
                        Im2Col.FoldAdd<T>(gcol, rgx.AsSpan(i * inLen, inLen), c, h, w, kh, kw, stride, padding);
                    }
                }
            });
            for (var t = 0; t < workers; t++)
            {
                if (gw is not null)
                    Accumulate<T>(gw, partW[t]);
                if (rgw is not null)
                    Accumulate<T>(rgw, partRw[t]);
            }
        });
        return y;
    }

    internal static void AddColumnVector<T>(Span<T> m, ReadOnlySpan<T> v, int rows, int cols)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (var r = 0; r < rows; r++)
        {
            var row = m.Slice(r * cols, cols);
            System.Numerics.Tensors.TensorPrimitives.Add(row, v[r], row);
        }
    }

    /// <summary>acc[r mod channels] += Σ row r, for m [rows, cols].</summary>
    internal static void SumColumns<T>(ReadOnlySpan<T> m, Span<T> acc, int rows, int cols, int channels)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (var r = 0; r < rows; r++)
            acc[r % channels] += System.Numerics.Tensors.TensorPrimitives.Sum(m.Slice(r * cols, cols));
    }
}
