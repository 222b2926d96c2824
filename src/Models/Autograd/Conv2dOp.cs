using System.Buffers;
using System.Numerics;

namespace WoodFisher.Models.Autograd;

public static partial class Ops
{
    /// <summary>
    /// 2-D convolution (cross-correlation, PyTorch semantics) by im2col + GEMM over the whole batch: the images are unfolded
    /// side by side into U [K, n·L] (Uₙ = unfold(xₙ) [K, L] in columns n·L … n·L + L − 1; K = C·kh·kw, L = ho·wo), then
    /// Y [O, n·L] = W [O, K]·U + b is one GEMM. x [n, C, h, w], W [O, C, kh, kw], b [O] → y [n, O, ho, wo].
    /// Backward with G [O, n·L] = ∂L/∂y: ∂W += G·Uᵀ (= Σₙ gₙUₙᵀ), ∂b += Σ G, ∂x += fold(Wᵀ·G).
    /// R-op: R{Y} = W·unfold(R{x}) + R{W}U + R{b}; R{∂W} += R{G}Uᵀ + G·R{U}ᵀ; R{∂x} += fold(WᵀR{G} + R{W}ᵀG).
    /// Large batches are cut into chunks of whole images (at most about 2¹⁷ column entries each, and at least one chunk per
    /// core), one GEMM per chunk, so each GEMM's column operand stays cache-sized and the chunks run in parallel.
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
        var plan = new ConvChunks(n, k * l);
        // Chunk j holds images [j·per, j·per + count) as one [K, count·L] matrix at offset j·per·K·L.
        var cols = new T[(long)n * k * l];
        var y = new Tensor<T>([n, o, ho, wo], null, x.RequiresGrad || weight.RequiresGrad || (bias?.RequiresGrad ?? false));
        var rx = tape.ForwardOverReverse ? tape.TangentOrNull(x) : null;
        var rw = tape.ForwardOverReverse ? tape.TangentOrNull(weight) : null;
        var rb = tape.ForwardOverReverse && bias is not null ? tape.TangentOrNull(bias) : null;
        var rcols = rx is null ? null : new T[cols.Length];
        var ry = tape.ForwardOverReverse && (rx is not null || rw is not null || rb is not null) ? tape.NewTangent(y) : null;
        Parallel.For(0, plan.Chunks, plan.Options, j =>
        {
            var (first, count) = plan.Range(j);
            var width = count * l;
            var uj = cols.AsSpan(first * k * l, k * width);
            for (var s = 0; s < count; s++)
                Im2Col.Unfold<T>(x.Data.AsSpan((first + s) * inLen, inLen), uj[(s * l)..], c, h, w, kh, kw, stride, padding, width);
            var yt = ArrayPool<T>.Shared.Rent(o * width);
            try
            {
                Gemm.Multiply<T>(false, false, o, width, k, weight.Data, uj, yt, parallel: plan.InnerParallel);
                FromChannelMajor<T>(yt, y.Data, bias?.Data, first, count, o, l);
                if (ry is null)
                    return;
                Array.Clear(yt, 0, o * width);
                if (rcols is not null)
                {
                    var ruj = rcols.AsSpan(first * k * l, k * width);
                    for (var s = 0; s < count; s++)
                        Im2Col.Unfold<T>(rx.AsSpan((first + s) * inLen, inLen), ruj[(s * l)..], c, h, w, kh, kw, stride, padding, width);
                    Gemm.Multiply<T>(false, false, o, width, k, weight.Data, ruj, yt, accumulate: true, parallel: plan.InnerParallel);
                }
                if (rw is not null)
                    Gemm.Multiply<T>(false, false, o, width, k, rw, uj, yt, accumulate: true, parallel: plan.InnerParallel);
                FromChannelMajor<T>(yt, ry, rb, first, count, o, l);
            }
            finally
            {
                ArrayPool<T>.Shared.Return(yt);
            }
        });
        tape.Record(() =>
        {
            var g = tape.GradOrNull(y);
            if (g is null)
                return;
            if (tape.Observer is { } observer)
                ObserveConv(observer, plan, weight, bias, cols, g, n, o, k, l);
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
            var needRgx = rgx is not null && (rg is not null || rwb is not null);
            if (gw is null && rgw is null && gx is null && !needRgx)
                return;
            // One partial ∂W per chunk, summed in chunk order afterwards: deterministic whatever the thread schedule.
            var partW = new T[plan.Chunks][];
            var partRw = new T[plan.Chunks][];
            Parallel.For(0, plan.Chunks, plan.Options, j =>
            {
                var (first, count) = plan.Range(j);
                var width = count * l;
                var uj = cols.AsSpan(first * k * l, k * width);
                var gt = ArrayPool<T>.Shared.Rent(o * width);
                var rgt = rg is null ? null : ArrayPool<T>.Shared.Rent(o * width);
                var dcol = gx is null && !needRgx ? null : ArrayPool<T>.Shared.Rent(k * width);
                try
                {
                    ToChannelMajor<T>(g, gt, first, count, o, l);
                    if (rg is not null)
                        ToChannelMajor<T>(rg, rgt, first, count, o, l);
                    if (gw is not null)
                    {
                        partW[j] = new T[o * k];
                        Gemm.Multiply<T>(false, true, o, k, width, gt, uj, partW[j], parallel: plan.InnerParallel);
                    }
                    if (rgw is not null)
                    {
                        var prw = partRw[j] = new T[o * k];
                        if (rgt is not null)
                            Gemm.Multiply<T>(false, true, o, k, width, rgt, uj, prw, accumulate: true, parallel: plan.InnerParallel);
                        if (rcols is not null)
                            Gemm.Multiply<T>(false, true, o, k, width, gt, rcols.AsSpan(first * k * l, k * width), prw, accumulate: true, parallel: plan.InnerParallel);
                    }
                    if (gx is not null)
                    {
                        Gemm.Multiply<T>(true, false, k, width, o, weight.Data, gt, dcol, parallel: plan.InnerParallel);
                        for (var s = 0; s < count; s++)
                            Im2Col.FoldAdd<T>(dcol.AsSpan(s * l), gx.AsSpan((first + s) * inLen, inLen), c, h, w, kh, kw, stride, padding, width);
                    }
                    if (needRgx)
                    {
                        Array.Clear(dcol!, 0, k * width);
                        if (rgt is not null)
                            Gemm.Multiply<T>(true, false, k, width, o, weight.Data, rgt, dcol, accumulate: true, parallel: plan.InnerParallel);
                        if (rwb is not null)
                            Gemm.Multiply<T>(true, false, k, width, o, rwb, gt, dcol, accumulate: true, parallel: plan.InnerParallel);
                        for (var s = 0; s < count; s++)
                            Im2Col.FoldAdd<T>(dcol.AsSpan(s * l), rgx!.AsSpan((first + s) * inLen, inLen), c, h, w, kh, kw, stride, padding, width);
                    }
                }
                finally
                {
                    ArrayPool<T>.Shared.Return(gt);
                    if (rgt is not null)
                        ArrayPool<T>.Shared.Return(rgt);
                    if (dcol is not null)
                        ArrayPool<T>.Shared.Return(dcol);
                }
            });
            for (var j = 0; j < plan.Chunks; j++)
            {
                if (gw is not null)
                    Accumulate<T>(gw, partW[j]);
                if (rgw is not null)
                    Accumulate<T>(rgw, partRw[j]);
            }
        });
        return y;
    }

    /// <summary>
    /// Hands the observer unfold(xₙ) in its per-image layout [n, K, L] (copied out of the batch matrix: O(nKL), small next to
    /// the observer's own per-sample products) and ∂L/∂y [n, O, L].
    /// </summary>
    private static void ObserveConv<T>(IBackwardObserver<T> observer, ConvChunks plan, Parameter<T> weight, Parameter<T>? bias,
        T[] cols, T[] g, int n, int o, int k, int l)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var perImage = ArrayPool<T>.Shared.Rent(n * k * l);
        try
        {
            Parallel.For(0, plan.Chunks, plan.Options, j =>
            {
                var (first, count) = plan.Range(j);
                var width = count * l;
                var uj = cols.AsSpan(first * k * l, k * width);
                for (var s = 0; s < count; s++)
                    for (var r = 0; r < k; r++)
                        uj.Slice(r * width + s * l, l).CopyTo(perImage.AsSpan(((first + s) * k + r) * l, l));
            });
            observer.OnConv(weight, bias, perImage.AsSpan(0, n * k * l), g, n, o, k, l);
        }
        finally
        {
            ArrayPool<T>.Shared.Return(perImage);
        }
    }

    /// <summary>dst [O, count·L] = images first … first + count − 1 of src [n, O, L], channel-major.</summary>
    private static void ToChannelMajor<T>(ReadOnlySpan<T> src, Span<T> dst, int first, int count, int o, int l)
    {
        var width = count * l;
        for (var s = 0; s < count; s++)
            for (var ch = 0; ch < o; ch++)
                src.Slice(((first + s) * o + ch) * l, l).CopyTo(dst.Slice(ch * width + s * l, l));
    }

    /// <summary>dst [n, O, L] images first … first + count − 1 += src [O, count·L] (+ b per channel when given).</summary>
    private static void FromChannelMajor<T>(ReadOnlySpan<T> src, Span<T> dst, ReadOnlySpan<T> b, int first, int count, int o, int l)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var width = count * l;
        for (var s = 0; s < count; s++)
            for (var ch = 0; ch < o; ch++)
            {
                var d = dst.Slice(((first + s) * o + ch) * l, l);
                System.Numerics.Tensors.TensorPrimitives.Add(d, src.Slice(ch * width + s * l, l), d);
                if (!b.IsEmpty)
                    System.Numerics.Tensors.TensorPrimitives.Add(d, b[ch], d);
            }
    }

    /// <summary>
    /// Splits a batch of n images (each <c>perImage</c> column entries) into chunks of whole images: at most about 2¹⁷ entries
    /// per chunk (512 KB in float32: the GEMM kernel streams its column operand once per 4 output rows, so it should stay in
    /// a core's L2; a whole-batch operand of several MB was no faster than one GEMM per image for LeNet-5's conv1), and a
    /// multiple of the core count of chunks when the batch allows, so chunks run one per core with serial GEMMs; a batch
    /// that fits one chunk runs its GEMMs multi-threaded instead.
    /// </summary>
    private readonly struct ConvChunks
    {
        private const int MaxEntries = 1 << 17;
        private readonly int _n;

        public ConvChunks(int n, int perImage)
        {
            _n = n;
            var cores = Environment.ProcessorCount;
            var maxPer = Math.Max(1, MaxEntries / Math.Max(1, perImage));
            var chunks = Math.Min(n, cores * ((n + cores * maxPer - 1) / (cores * maxPer)));
            chunks = Math.Max(1, chunks);
            PerChunk = (n + chunks - 1) / chunks;
            Chunks = Math.Max(1, (n + PerChunk - 1) / Math.Max(1, PerChunk));
            InnerParallel = Chunks == 1;
            Options = new ParallelOptions { MaxDegreeOfParallelism = InnerParallel ? 1 : -1 };
        }

        public int Chunks { get; }

        public int PerChunk { get; }

        public bool InnerParallel { get; }

        public ParallelOptions Options { get; }

        public (int First, int Count) Range(int j) => (j * PerChunk, Math.Min(PerChunk, _n - j * PerChunk));
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
