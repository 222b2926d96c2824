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

    public override IEnumerable<(string Name, IWeightMatrix Weights)> Weights => [(_name, _weights)];

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

    /// <summary>Row (c, u, v), column (b, oy, ox) of the unfolded input: x[c, b0 + b, oy·s + u − p, ox·s + v − p], zero outside.</summary>
    private void Unfold(Span<float> input, int batch, int b0, int nb, Span<float> u)
    {
        var (h, w, ho, wo, k) = (Input.Height, Input.Width, Output.Height, Output.Width, _kernel);
        var n = nb * ho * wo;
        for (var c = 0; c < Input.Channels; c++)
        {
            for (var ku = 0; ku < k; ku++)
            {
                for (var kv = 0; kv < k; kv++)
                {
                    var row = u.Slice((((c * k) + ku) * k + kv) * n, n);
                    for (var b = 0; b < nb; b++)
                    {
                        var plane = input.Slice(((c * batch) + b0 + b) * h * w, h * w);
                        for (var oy = 0; oy < ho; oy++)
                        {
                            var dst = row.Slice(((b * ho) + oy) * wo, wo);
                            var iy = (oy * _stride) + ku - _padding;
                            if (iy < 0 || iy >= h)
                            {
                                dst.Clear();
                                continue;
                            }

                            var src = plane.Slice(iy * w, w);
                            for (var ox = 0; ox < wo; ox++)
                            {
                                var ix = (ox * _stride) + kv - _padding;
                                dst[ox] = ix >= 0 && ix < w ? src[ix] : 0f;
                            }
                        }
                    }
                }
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
