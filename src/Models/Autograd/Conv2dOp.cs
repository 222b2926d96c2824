using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using WoodFisher.Kernels;

namespace WoodFisher.Models.Autograd;

public static partial class Ops
{
    /// <summary>
    /// 2-D convolution (cross-correlation, PyTorch semantics) by im2col + GEMM over runs of images: for a run of images with
    /// unfolded columns U [K, run·L] (<see cref="Conv2dGeometry"/>), Y = W [O, K]·U + b, one product per run.
    /// x [n, C, h, w], W [O, C, kh, kw], b [O] → y [n, O, ho, wo]. Backward: ∂W += G·Uᵀ, ∂b += Σ G, ∂x += fold(WᵀG) with
    /// G = ∂L/∂Y [O, run·L]. R-op: R{Y} = W·unfold(R{x}) + R{W}U + R{b}; R{∂W} += R{G}Uᵀ + G·unfold(R{x})ᵀ;
    /// R{∂x} += fold(WᵀR{G} + R{W}ᵀG). Runs are spread over the cores.
    /// </summary>
    public static Tensor<T> Conv2d<T>(Tape<T> tape, Tensor<T> x, Parameter<T> weight, Parameter<T>? bias, int stride, int padding)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Dim(0), c = x.Dim(1), o = weight.Dim(0);
        if (weight.Dim(1) != c)
            throw new ArgumentException($"Conv2d weight expects {weight.Dim(1)} input channels, input has {c}.", nameof(x));
        var geo = new Conv2dGeometry(c, x.Dim(2), x.Dim(3), weight.Dim(2), weight.Dim(3), stride, padding);
        int k = geo.Patch, l = geo.Positions, inLen = geo.InputSize;
        var y = new Tensor<T>([n, o, geo.OutHeight, geo.OutWidth], null, x.RequiresGrad || weight.RequiresGrad || (bias?.RequiresGrad ?? false));
        var rx = tape.ForwardOverReverse ? tape.TangentOrNull(x) : null;
        var rw = tape.ForwardOverReverse ? tape.TangentOrNull(weight) : null;
        var rb = tape.ForwardOverReverse && bias is not null ? tape.TangentOrNull(bias) : null;
        var ry = tape.ForwardOverReverse && (rx is not null || rw is not null || rb is not null) ? tape.NewTangent(y) : null;
        var run = geo.RunLength(n);
        ForEachRun(n, run, (i0, cnt) =>
        {
            var cols = cnt * l;
            var u = ArrayPool<T>.Shared.Rent(k * cols);
            var z = ArrayPool<T>.Shared.Rent(o * cols);
            try
            {
                geo.Unfold<T>(x.Data.AsSpan(i0 * inLen), cnt, u);
                LinearAlgebra.Multiply<T>(false, false, o, cols, k, weight.Data, u, z, parallel: false);
                ScatterRun<T>(z, bias?.Data, y.Data.AsSpan(i0 * o * l), cnt, o, l);
                if (ry is null)
                    return;
                if (rw is not null)
                    LinearAlgebra.Multiply<T>(false, false, o, cols, k, rw, u, z, parallel: false);
                else
                    z.AsSpan(0, o * cols).Clear();
                if (rx is not null)
                {
                    geo.Unfold<T>(rx.AsSpan(i0 * inLen), cnt, u);
                    LinearAlgebra.Multiply<T>(false, false, o, cols, k, weight.Data, u, z, accumulate: true, parallel: false);
                }
                ScatterRun<T>(z, rb, ry.AsSpan(i0 * o * l), cnt, o, l);
            }
            finally
            {
                ArrayPool<T>.Shared.Return(u);
                ArrayPool<T>.Shared.Return(z);
            }
        });
        tape.Record(() => Conv2dBackward(tape, x, weight, bias, y, geo, run));
        return y;
    }

    private static void Conv2dBackward<T>(Tape<T> tape, Tensor<T> x, Parameter<T> weight, Parameter<T>? bias, Tensor<T> y, Conv2dGeometry geo, int run)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var g = tape.GradOrNull(y);
        if (g is null)
            return;
        int n = x.Dim(0), o = weight.Dim(0), k = geo.Patch, l = geo.Positions, inLen = geo.InputSize;
        tape.Observer?.OnConv(weight, bias, geo, x.Data, g, n);
        var fr = tape.ForwardOverReverse;
        var rg = fr ? tape.GradTangentOrNull(y) : null;
        var rx = fr ? tape.TangentOrNull(x) : null;
        var rw = fr ? tape.TangentOrNull(weight) : null;
        var gw = weight.RequiresGrad && !tape.ObserverOnly ? tape.Grad(weight) : null;
        var rgw = weight.RequiresGrad && fr ? tape.GradTangent(weight) : null;
        var gx = x.RequiresGrad ? tape.Grad(x) : null;
        var rgx = x.RequiresGrad && fr ? tape.GradTangent(x) : null;
        if (bias is not null && bias.RequiresGrad && !tape.ObserverOnly)
        {
            SumColumns<T>(g, tape.Grad(bias), n * o, l, o);
            if (rg is not null)
                SumColumns<T>(rg, tape.GradTangent(bias), n * o, l, o);
        }
        var wantW = gw is not null || (rgw is not null && (rg is not null || rx is not null));
        var wantX = gx is not null || (rgx is not null && (rg is not null || rw is not null));
        if (!wantW && !wantX)
            return;
        var partials = new List<(T[]? W, T[]? Rw)>();
        ForEachRunWithState<(T[]? W, T[]? Rw)>(n, run, () => (gw is null ? null : new T[gw.Length], rgw is null ? null : new T[rgw.Length]), (i0, cnt, acc) =>
        {
            var cols = cnt * l;
            var u = ArrayPool<T>.Shared.Rent(k * cols);
            var gr = ArrayPool<T>.Shared.Rent(o * cols);
            var rgr = rg is null ? null : ArrayPool<T>.Shared.Rent(o * cols);
            var gc = wantX ? ArrayPool<T>.Shared.Rent(k * cols) : null;
            try
            {
                GatherRun<T>(g.AsSpan(i0 * o * l), gr, cnt, o, l);
                if (rgr is not null)
                    GatherRun<T>(rg.AsSpan(i0 * o * l), rgr, cnt, o, l);
                if (wantW)
                {
                    geo.Unfold<T>(x.Data.AsSpan(i0 * inLen), cnt, u);
                    if (acc.W is not null)
                        LinearAlgebra.Multiply<T>(false, true, o, k, cols, gr, u, acc.W, accumulate: true, parallel: false);
                    if (acc.Rw is not null && rgr is not null)
                        LinearAlgebra.Multiply<T>(false, true, o, k, cols, rgr, u, acc.Rw, accumulate: true, parallel: false);
                    if (acc.Rw is not null && rx is not null)
                    {
                        geo.Unfold<T>(rx.AsSpan(i0 * inLen), cnt, u);
                        LinearAlgebra.Multiply<T>(false, true, o, k, cols, gr, u, acc.Rw, accumulate: true, parallel: false);
                    }
                }
                if (gx is not null && gc is not null)
                {
                    LinearAlgebra.Multiply<T>(true, false, k, cols, o, weight.Data, gr, gc, parallel: false);
                    geo.FoldAdd<T>(gc, cnt, gx.AsSpan(i0 * inLen));
                }
                if (rgx is not null && gc is not null && (rgr is not null || rw is not null))
                {
                    gc.AsSpan(0, k * cols).Clear();
                    if (rgr is not null)
                        LinearAlgebra.Multiply<T>(true, false, k, cols, o, weight.Data, rgr, gc, accumulate: true, parallel: false);
                    if (rw is not null)
                        LinearAlgebra.Multiply<T>(true, false, k, cols, o, rw, gr, gc, accumulate: true, parallel: false);
                    geo.FoldAdd<T>(gc, cnt, rgx.AsSpan(i0 * inLen));
                }
            }
            finally
            {
                ArrayPool<T>.Shared.Return(u);
                ArrayPool<T>.Shared.Return(gr);
                if (rgr is not null)
                    ArrayPool<T>.Shared.Return(rgr);
                if (gc is not null)
                    ArrayPool<T>.Shared.Return(gc);
            }
        }, acc =>
        {
            lock (partials)
                partials.Add(acc);
        });
        foreach (var (pw, prw) in partials)
        {
            if (gw is not null && pw is not null)
                Accumulate<T>(gw, pw);
            if (rgw is not null && prw is not null)
                Accumulate<T>(rgw, prw);
        }
    }

    /// <summary>y[i, o, t] = z[o, i·l + t] + b[o] for the cnt images of a run (z [o, cnt·l]).</summary>
    private static void ScatterRun<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> b, Span<T> y, int cnt, int o, int l)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var ld = cnt * l;
        for (var i = 0; i < cnt; i++)
        {
            for (var ch = 0; ch < o; ch++)
            {
                var src = z.Slice((ch * ld) + (i * l), l);
                var dst = y.Slice(((i * o) + ch) * l, l);
                if (b.IsEmpty)
                    src.CopyTo(dst);
                else
                    TensorPrimitives.Add(src, b[ch], dst);
            }
        }
    }

    /// <summary>G[o, i·l + t] = g[i, o, t] for the cnt images of a run: the inverse permutation of <see cref="ScatterRun{T}"/>.</summary>
    private static void GatherRun<T>(ReadOnlySpan<T> g, Span<T> gr, int cnt, int o, int l)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var ld = cnt * l;
        for (var i = 0; i < cnt; i++)
        {
            for (var ch = 0; ch < o; ch++)
                g.Slice(((i * o) + ch) * l, l).CopyTo(gr.Slice((ch * ld) + (i * l), l));
        }
    }

    /// <summary>Runs body(first, count) over runs of <paramref name="run"/> images of n, on all cores.</summary>
    internal static void ForEachRun(int n, int run, Action<int, int> body)
        => ForEachRunWithState<object?>(n, run, () => null, (i0, cnt, _) => body(i0, cnt), _ => { });

    /// <summary>As <see cref="ForEachRun"/> with one state per worker (e.g. a private accumulator), handed to finish once.</summary>
    internal static void ForEachRunWithState<TState>(int n, int run, Func<TState> init, Action<int, int, TState> body, Action<TState> finish)
    {
        var runs = (n + run - 1) / run;
        var workers = Math.Min(Environment.ProcessorCount, runs);
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, t =>
        {
            var state = init();
            for (var r = t; r < runs; r += workers)
            {
                var i0 = r * run;
                body(i0, Math.Min(run, n - i0), state);
            }
            finish(state);
        });
    }

    /// <summary>acc[r mod channels] += Σ row r, for m [rows, cols].</summary>
    internal static void SumColumns<T>(ReadOnlySpan<T> m, Span<T> acc, int rows, int cols, int channels)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (var r = 0; r < rows; r++)
            acc[r % channels] += TensorPrimitives.Sum(m.Slice(r * cols, cols));
    }
}
