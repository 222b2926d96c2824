using WoodFisher.Kernels.Sparse;

namespace WoodFisher.Models.Inference;

/// <summary>
/// 2-D convolution as im2col + C = WB: W is [out, in·k·k] (PyTorch's [out, in, k, k] flattened), B the unfolded input
/// [in·k·k, B·Ho·Wo] whose row (c, u, v) holds the input of channel c shifted by (u, v) for every output position, so the
/// product is [out, B, Ho, Wo], the engine's layout. Batches whose unfolded input would pass
/// <see cref="UnfoldedLimit"/> floats run in runs of images through a staging buffer.
/// </summary>
internal sealed class ConvolutionLayer : BufferedLayer
{
    /// <summary>Floats of the unfolded input held at once (16 MiB).</summary>
    public const int UnfoldedLimit = 1 << 22;

    /// <summary>Floats of unfolded input from which its rows are split over the cores: tens of microseconds of copying, more than waking the pool costs.</summary>
    private const long ParallelFloats = 1 << 16;

    private readonly string _name;
    private readonly IWeightMatrix _weights;
    private readonly float[]? _bias;
    private readonly int _kernel, _stride, _padding, _run;
    private readonly AlignedFloats _unfolded;
    private readonly AlignedFloats? _staging;

    public ConvolutionLayer(string name, IWeightMatrix weights, float[]? bias, FeatureMap input, int kernel, int stride, int padding, int maxBatch)
        : base(input, new FeatureMap(weights.Rows, ((input.Height + (2 * padding) - kernel) / stride) + 1, ((input.Width + (2 * padding) - kernel) / stride) + 1), maxBatch)
    {
        _name = name;
        _weights = weights;
        _bias = bias;
        (_kernel, _stride, _padding) = (kernel, stride, padding);
        var perImage = (long)weights.Columns * Output.Plane;
        _run = (int)Math.Clamp(UnfoldedLimit / perImage, 1, maxBatch);
        _unfolded = new AlignedFloats(perImage * _run);
        if (_run < maxBatch)
            _staging = new AlignedFloats((long)Output.Size * _run);
    }

    public override IEnumerable<(string Name, IWeightMatrix Weights, int PerSample)> Weights => [(_name, _weights, Output.Plane)];

    public override Span<float> Forward(Span<float> input, int batch)
    {
        var y = OutputFor(batch);
        var plane = Output.Plane;
        for (var b0 = 0; b0 < batch; b0 += _run)
        {
            var nb = Math.Min(_run, batch - b0);
            var n = nb * plane;
            var u = _unfolded.Span[..(_weights.Columns * n)];
            Unfold(input, batch, b0, nb, u);
            if (nb == batch)
            {
                _weights.Multiply(u, n, y, _bias);
                break;
            }

            var staged = _staging!.Span[..(_weights.Rows * n)];
            _weights.Multiply(u, n, staged, _bias);
            for (var c = 0; c < _weights.Rows; c++)
                staged.Slice(c * n, n).CopyTo(y.Slice(((c * batch) + b0) * plane, n));
        }
        return y;
    }

    /// <summary>
    /// Row (c, u, v), column (b, oy, ox) of the unfolded input: x[c, b0 + b, oy·s + u − p, ox·s + v − p], zero outside. The
    /// in-range outputs of an input row are one span (a copy at stride 1), the edges cleared; the rows of a large unfolding
    /// are split over the cores.
    /// </summary>
    private void Unfold(Span<float> input, int batch, int b0, int nb, Span<float> u)
    {
        var k = _kernel;
        var rows = Input.Channels * k * k;
        var n = nb * Output.Plane;
        unsafe
        {
            fixed (float* pin = input, pu = u)
            {
                var (src, dst) = ((nint)pin, (nint)pu);
                if ((long)rows * n < ParallelFloats || !CoreSplit.MaySplit)
                {
                    for (var r = 0; r < rows; r++)
                        UnfoldRow(new ReadOnlySpan<float>((float*)src, input.Length), batch, b0, nb, r, new Span<float>((float*)dst + ((nint)r * n), n));
                    return;
                }

                var length = input.Length;
                Parallel.For(0, rows, r => UnfoldRow(new ReadOnlySpan<float>((float*)src, length), batch, b0, nb, r, new Span<float>((float*)dst + ((nint)r * n), n)));
            }
        }
    }

    private void UnfoldRow(ReadOnlySpan<float> input, int batch, int b0, int nb, int r, Span<float> row)
    {
        var (h, w, ho, wo, k, s, p) = (Input.Height, Input.Width, Output.Height, Output.Width, _kernel, _stride, _padding);
        var (c, ku, kv) = (r / (k * k), r / k % k, r % k);

        // Outputs ox whose input column ix = ox·s + kv − p lies in [0, w): ox in [first, last).
        var first = Math.Clamp((p - kv + s - 1) / s, 0, wo);
        var last = w - 1 + p - kv < 0 ? first : Math.Clamp(((w - 1 + p - kv) / s) + 1, first, wo);
        for (var b = 0; b < nb; b++)
        {
            var plane = input.Slice(((c * batch) + b0 + b) * h * w, h * w);
            for (var oy = 0; oy < ho; oy++)
            {
                var dst = row.Slice(((b * ho) + oy) * wo, wo);
                var iy = (oy * s) + ku - p;
                if (iy < 0 || iy >= h || first >= last)
                {
                    dst.Clear();
                    continue;
                }

                if (first > 0)
                    dst[..first].Clear();
                if (last < wo)
                    dst[last..].Clear();
                var src = plane.Slice(iy * w, w);
                var ix = (first * s) + kv - p;
                if (s == 1)
                {
                    src.Slice(ix, last - first).CopyTo(dst[first..last]);
                    continue;
                }

                for (var ox = first; ox < last; ox++, ix += s)
                    dst[ox] = src[ix];
            }
        }
    }

    public override void Dispose()
    {
        base.Dispose();
        _unfolded.Dispose();
        _staging?.Dispose();
    }
}
