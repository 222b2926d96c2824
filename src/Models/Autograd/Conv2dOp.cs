using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using WoodFisher.Kernels;

namespace WoodFisher.Models.Autograd;

public static partial class Ops
{
    /// <summary>
    /// 2-D convolution (cross-correlation, PyTorch semantics) as products with the windows of the padded input
    /// (<see cref="Conv2dGeometry"/>): for a run of images, the output grid Y = W [O, K]·X̃ + b with X̃ the K tap windows, so
    /// no unfolded copy is made. x [n, C, h, w], W [O, C, kh, kw], b [O] → y [n, O, ho, wo]. Backward, with G = ∂L/∂Y on
    /// the grid (zero where no output is kept): ∂W += G·X̃ᵀ, ∂b += Σ G, ∂x̃ += Wᵀ-windows of G (the transposed convolution,
    /// one product). R-op: R{Y} = W·R{X̃} + R{W}X̃ + R{b}; R{∂W} += R{G}X̃ᵀ + G·R{X̃}ᵀ; R{∂x̃} += from WᵀR{G} + R{W}ᵀG.
    /// Runs are spread over the cores.
    /// </summary>
    public static Tensor<T> Conv2d<T>(Tape<T> tape, Tensor<T> x, Parameter<T> weight, Parameter<T>? bias, int stride, int padding)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Dim(0), c = x.Dim(1), o = weight.Dim(0);
        if (weight.Dim(1) != c)
            throw new ArgumentException($"Conv2d weight expects {weight.Dim(1)} input channels, input has {c}.", nameof(x));
        var geo = new Conv2dGeometry(c, x.Dim(2), x.Dim(3), weight.Dim(2), weight.Dim(3), stride, padding);
        int k = geo.Patch, l = geo.Positions, inLen = geo.InputSize;
        var y = tape.Output([n, o, geo.OutHeight, geo.OutWidth], x.RequiresGrad || weight.RequiresGrad || (bias?.RequiresGrad ?? false));
        var rx = tape.ForwardOverReverse ? tape.TangentOrNull(x) : null;
        var rw = tape.ForwardOverReverse ? tape.TangentOrNull(weight) : null;
        var rb = tape.ForwardOverReverse && bias is not null ? tape.TangentOrNull(bias) : null;
        var ry = tape.ForwardOverReverse && (rx is not null || rw is not null || rb is not null) ? tape.NewTangent(y) : null;
        var run = geo.RunLength(n, o);
        ForEachRun(n, run, (i0, cnt) =>
        {
            int len = geo.PaddedLength(cnt), grid = geo.GridLength(cnt);
            var taps = geo.TapOffsets(cnt);
            var xp = ArrayPool<T>.Shared.Rent(len);
            var z = ArrayPool<T>.Shared.Rent(o * grid);
            try
            {
                geo.Pad<T>(x.Data.AsSpan(i0 * inLen), cnt, xp);
                LinearAlgebra.Multiply(o, T.One, weight.Data, k, new RowWindows<T>(xp.AsSpan(0, len), taps, grid), T.Zero, z, grid, parallel: false);
                geo.FromGrid<T>(z, grid, bias?.Data, o, cnt, y.Data.AsSpan(i0 * o * l));
                if (ry is null)
                    return;
                var beta = T.Zero;
                if (rw is not null)
                {
                    LinearAlgebra.Multiply(o, T.One, rw, k, new RowWindows<T>(xp.AsSpan(0, len), taps, grid), T.Zero, z, grid, parallel: false);
                    beta = T.One;
                }
                if (rx is not null)
                {
                    geo.Pad<T>(rx.AsSpan(i0 * inLen), cnt, xp);
                    LinearAlgebra.Multiply(o, T.One, weight.Data, k, new RowWindows<T>(xp.AsSpan(0, len), taps, grid), beta, z, grid, parallel: false);
                }
                else if (rw is null)
                {
                    z.AsSpan(0, o * grid).Clear();
                }
                geo.FromGrid<T>(z, grid, rb, o, cnt, ry.AsSpan(i0 * o * l));
            }
            finally
            {
                ArrayPool<T>.Shared.Return(xp);
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
        int n = x.Dim(0), o = weight.Dim(0), c = geo.Channels, k = geo.Patch, l = geo.Positions, inLen = geo.InputSize;
        tape.Observer?.OnConv(weight, bias, geo, x.Data, g, n);
        var fr = tape.ForwardOverReverse;
        var rg = fr ? tape.GradTangentOrNull(y) : null;
        var rx = fr ? tape.TangentOrNull(x) : null;
        var rw = fr ? tape.TangentOrNull(weight) : null;
        var gw = weight.RequiresGrad && !tape.ObserverOnly ? tape.Grad(weight) : null;
        var rgw = weight.RequiresGrad && fr && (rg is not null || rx is not null) ? tape.GradTangent(weight) : null;
        var gx = x.RequiresGrad ? tape.Grad(x) : null;
        var rgx = x.RequiresGrad && fr && (rg is not null || rw is not null) ? tape.GradTangent(x) : null;
        if (bias is not null && bias.RequiresGrad && !tape.ObserverOnly)
        {
            SumColumns<T>(g, tape.Grad(bias), n * o, l, o);
            if (rg is not null)
                SumColumns<T>(rg, tape.GradTangent(bias), n * o, l, o);
        }
        if (gw is null && rgw is null && gx is null && rgx is null)
            return;

        // Wᵀ by taps: wt[c, (o, u, v)] = W[o, c, u, v], the weights of the transposed convolution.
        var taps = k / c * o;
        var wt = gx is null && rgx is null ? null : TapsTransposed<T>(weight.Data, o, c, k / c);
        var rwt = rgx is null || rw is null ? null : TapsTransposed<T>(rw, o, c, k / c);
        // One partial per worker, summed in worker order below: the order in which workers finish varies from run to run,
        // and with three partials or more a float sum taken in that order would too.
        var partials = new (T[]? W, T[]? Rw)[Workers(n, run)];
        ForEachRunWithState<(T[]? W, T[]? Rw)>(n, run, () => (gw is null ? null : new T[gw.Length], rgw is null ? null : new T[rgw.Length]), (i0, cnt, acc) =>
        {
            int len = geo.PaddedLength(cnt), grid = geo.GridLength(cnt), row = geo.GradientRowLength(cnt), lead = geo.GradientLead;
            var tapsX = geo.TapOffsets(cnt);
            var xp = ArrayPool<T>.Shared.Rent(len);
            var gr = ArrayPool<T>.Shared.Rent(o * row);
            var rgr = rg is null ? null : ArrayPool<T>.Shared.Rent(o * row);
            var gp = wt is null ? null : ArrayPool<T>.Shared.Rent(c * cnt * geo.Plane);
            try
            {
                geo.ToGrid<T>(g.AsSpan(i0 * o * l), o, cnt, gr, row, lead);
                if (rgr is not null)
                    geo.ToGrid<T>(rg.AsSpan(i0 * o * l), o, cnt, rgr, row, lead);
                if (acc.W is not null || acc.Rw is not null)
                {
                    geo.Pad<T>(x.Data.AsSpan(i0 * inLen), cnt, xp);
                    var wx = new RowWindows<T>(xp.AsSpan(0, len), tapsX, grid);
                    if (acc.W is not null)
                        LinearAlgebra.MultiplyTransposed(o, T.One, gr.AsSpan(lead), row, wx, T.One, acc.W, k, parallel: false);
                    if (acc.Rw is not null && rgr is not null)
                        LinearAlgebra.MultiplyTransposed(o, T.One, rgr.AsSpan(lead), row, wx, T.One, acc.Rw, k, parallel: false);
                    if (acc.Rw is not null && rx is not null)
                    {
                        geo.Pad<T>(rx.AsSpan(i0 * inLen), cnt, xp);
                        LinearAlgebra.MultiplyTransposed(o, T.One, gr.AsSpan(lead), row, new RowWindows<T>(xp.AsSpan(0, len), tapsX, grid), T.One, acc.Rw, k, parallel: false);
                    }
                }
                if (gp is null || wt is null)
                    return;
                var planes = cnt * geo.Plane;
                var tapsG = geo.TransposedTapOffsets(o, cnt);
                if (gx is not null)
                {
                    LinearAlgebra.Multiply(c, T.One, wt, taps, new RowWindows<T>(gr.AsSpan(0, o * row), tapsG, planes), T.Zero, gp, planes, parallel: false);
                    geo.AddInterior<T>(gp, cnt, gx.AsSpan(i0 * inLen));
                }
                if (rgx is not null)
                {
                    var beta = T.Zero;
                    if (rgr is not null)
                    {
                        LinearAlgebra.Multiply(c, T.One, wt, taps, new RowWindows<T>(rgr.AsSpan(0, o * row), tapsG, planes), T.Zero, gp, planes, parallel: false);
                        beta = T.One;
                    }
                    if (rwt is not null)
                        LinearAlgebra.Multiply(c, T.One, rwt, taps, new RowWindows<T>(gr.AsSpan(0, o * row), tapsG, planes), beta, gp, planes, parallel: false);
                    geo.AddInterior<T>(gp, cnt, rgx.AsSpan(i0 * inLen));
                }
            }
            finally
            {
                ArrayPool<T>.Shared.Return(xp);
                ArrayPool<T>.Shared.Return(gr);
                if (rgr is not null)
                    ArrayPool<T>.Shared.Return(rgr);
                if (gp is not null)
                    ArrayPool<T>.Shared.Return(gp);
            }
        }, (worker, acc) => partials[worker] = acc);
        foreach (var (pw, prw) in partials)
        {
            if (gw is not null && pw is not null)
                Accumulate<T>(gw, pw);
            if (rgw is not null && prw is not null)
                Accumulate<T>(rgw, prw);
        }
    }

    /// <summary>wt[c, (o, t)] = w[o, c, t] for w [O, C, taps].</summary>
    private static T[] TapsTransposed<T>(ReadOnlySpan<T> w, int o, int c, int taps)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var r = new T[o * c * taps];
        for (var oc = 0; oc < o; oc++)
            for (var ch = 0; ch < c; ch++)
                w.Slice(((oc * c) + ch) * taps, taps).CopyTo(r.AsSpan(((ch * o) + oc) * taps, taps));
        return r;
    }

    /// <summary>Runs body(first, count) over runs of <paramref name="run"/> images of n, on all cores.</summary>
    internal static void ForEachRun(int n, int run, Action<int, int> body)
        => ForEachRunWithState<object?>(n, run, () => null, (i0, cnt, _) => body(i0, cnt), (_, _) => { });

    /// <summary>Workers <see cref="ForEachRunWithState{TState}"/> runs for n images in runs of <paramref name="run"/>.</summary>
    internal static int Workers(int n, int run) => Math.Min(Environment.ProcessorCount, (n + run - 1) / run);

    /// <summary>
    /// As <see cref="ForEachRun"/> with one state per worker (e.g. a private accumulator), handed to finish(worker, state)
    /// once; workers are numbered 0 … <see cref="Workers"/> − 1.
    /// </summary>
    internal static void ForEachRunWithState<TState>(int n, int run, Func<TState> init, Action<int, int, TState> body, Action<int, TState> finish)
    {
        var runs = (n + run - 1) / run;
        var workers = Workers(n, run);
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, t =>
        {
            var state = init();
            for (var r = t; r < runs; r += workers)
            {
                var i0 = r * run;
                body(i0, Math.Min(run, n - i0), state);
            }
            finish(t, state);
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
