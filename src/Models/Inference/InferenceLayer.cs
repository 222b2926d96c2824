using System.Numerics.Tensors;
using WoodFisher.Kernels.Sparse;

namespace WoodFisher.Models.Inference;

/// <summary>Per-sample feature map: channels × height × width (a flat vector is C × 1 × 1).</summary>
internal readonly record struct FeatureMap(int Channels, int Height, int Width)
{
    public int Size => Channels * Height * Width;

    public int Plane => Height * Width;

    public override string ToString() => Height == 1 && Width == 1 ? $"{Channels}" : $"{Channels}x{Height}x{Width}";
}

/// <summary>
/// One step of the inference engine. Activations of a batch of B samples are held channel-major, [C, B, H, W], so that a
/// Linear layer's input is the columns × B operand of C = WB and a convolution's im2col matrix is built from whole rows.
/// </summary>
internal abstract class InferenceLayer : IDisposable
{
    protected InferenceLayer(FeatureMap input, FeatureMap output)
    {
        Input = input;
        Output = output;
    }

    public FeatureMap Input { get; }

    public FeatureMap Output { get; }

    /// <summary>Runs the layer on the first batch·Input.Size values of <paramref name="input"/>; returns the span holding the output (the input itself for in-place layers).</summary>
    public abstract Span<float> Forward(Span<float> input, int batch);

    /// <summary>The weight matrices this layer holds, with their parameter names and the columns of B each sample adds to their product.</summary>
    public virtual IEnumerable<(string Name, IWeightMatrix Weights, int PerSample)> Weights => [];

    public virtual void Dispose()
    {
    }
}

/// <summary>A layer that writes into a buffer of its own, sized for the largest batch.</summary>
internal abstract class BufferedLayer(FeatureMap input, FeatureMap output, int maxBatch) : InferenceLayer(input, output)
{
    private readonly AlignedFloats _output = new((long)output.Size * maxBatch);

    protected Span<float> OutputFor(int batch) => _output.Span[..(Output.Size * batch)];

    public override void Dispose() => _output.Dispose();
}

/// <summary>y = Wx + b on flat features, then max(y, 0) when <see cref="Relu"/> (a ReLU that follows the layer, run by the product).</summary>
internal sealed class LinearLayer(string name, IWeightMatrix weights, float[]? bias, FeatureMap input, int maxBatch)
    : BufferedLayer(input, new FeatureMap(weights.Rows, 1, 1), maxBatch)
{
    public override IEnumerable<(string Name, IWeightMatrix Weights, int PerSample)> Weights => [(name, weights, 1)];

    public bool Relu { get; set; }

    /// <summary>Whether the weights can run from the samples as given (<see cref="SampleInputProduct.Supports"/>).</summary>
    public bool RunsFromSamples => SampleInputProduct.Supports(weights);

    /// <summary>
    /// y for the batch given sample by sample (the network's input as the caller holds it), each core transposing it for
    /// itself (<see cref="SampleInputProduct"/>); false where that split does not apply and the input must be transposed first.
    /// </summary>
    public bool TryForwardSamples(SampleInputProduct product, ReadOnlySpan<float> samples, int batch, out Span<float> y)
    {
        y = OutputFor(batch);
        return batch > 1 && product.TryMultiply(weights, samples, batch, y, bias, Relu);
    }

    public override Span<float> Forward(Span<float> input, int batch)
    {
        var y = OutputFor(batch);
        if (batch == 1)
            weights.MultiplyVector(input[..weights.Columns], y, bias, Relu);
        else
            weights.Multiply(input[..(weights.Columns * batch)], batch, y, bias, Relu);
        return y;
    }
}

/// <summary>max(x, 0), in place.</summary>
internal sealed class ReluLayer(FeatureMap map) : InferenceLayer(map, map)
{
    public override Span<float> Forward(Span<float> input, int batch)
    {
        var x = input[..(Input.Size * batch)];
        TensorPrimitives.Max(x, 0f, x);
        return input;
    }
}

/// <summary>Eval-mode BatchNorm as a per-channel affine map x·s + t, s = γ/√(σ² + ε), t = β − μ·s, in place.</summary>
internal sealed class AffineChannelLayer(FeatureMap map, float[] scale, float[] shift) : InferenceLayer(map, map)
{
    public override Span<float> Forward(Span<float> input, int batch)
    {
        var n = batch * Input.Plane;
        for (var c = 0; c < Input.Channels; c++)
        {
            var x = input.Slice(c * n, n);
            TensorPrimitives.Multiply(x, scale[c], x);
            TensorPrimitives.Add(x, shift[c], x);
        }
        return input;
    }
}

/// <summary>Max or average pooling, k × k windows, stride s, no padding.</summary>
internal sealed class PoolLayer(FeatureMap input, int kernel, int stride, bool max, int maxBatch)
    : BufferedLayer(input, new FeatureMap(input.Channels, ((input.Height - kernel) / stride) + 1, ((input.Width - kernel) / stride) + 1), maxBatch)
{
    /// <summary>Input floats from which the planes are split over the cores.</summary>
    private const int ParallelFloats = 1 << 16;

    public override Span<float> Forward(Span<float> input, int batch)
    {
        var y = OutputFor(batch);
        var planes = Input.Channels * batch;
        unsafe
        {
            fixed (float* px = input, py = y)
            {
                var (x, o, n, m) = ((nint)px, (nint)py, Input.Plane, Output.Plane);
                if ((long)planes * n < ParallelFloats || !CoreSplit.MaySplit)
                {
                    for (var p = 0; p < planes; p++)
                        Plane(new ReadOnlySpan<float>((float*)x + ((nint)p * n), n), new Span<float>((float*)o + ((nint)p * m), m));
                }
                else
                {
                    Parallel.For(0, planes, p => Plane(new ReadOnlySpan<float>((float*)x + ((nint)p * n), n), new Span<float>((float*)o + ((nint)p * m), m)));
                }
            }
        }

        return y;
    }

    private void Plane(ReadOnlySpan<float> src, Span<float> dst)
    {
        var (w, ho, wo) = (Input.Width, Output.Height, Output.Width);
        var scale = 1f / (kernel * kernel);
        for (var oy = 0; oy < ho; oy++)
        {
            for (var ox = 0; ox < wo; ox++)
            {
                // The window row by row, each left to right: the order of the model's own pooling.
                var at = (oy * stride * w) + (ox * stride);
                var best = float.NegativeInfinity;
                var sum = 0f;
                for (var u = 0; u < kernel; u++, at += w)
                {
                    for (var v = 0; v < kernel; v++)
                    {
                        var x = src[at + v];
                        if (max)
                            best = Math.Max(best, x);
                        else
                            sum += x;
                    }
                }

                dst[(oy * wo) + ox] = max ? best : sum * scale;
            }
        }
    }
}

/// <summary>[C, B, H, W] → [C·H·W, B]: a feature map becomes the flat features a Linear layer takes (PyTorch's order).</summary>
internal sealed class FlattenLayer(FeatureMap input, int maxBatch) : BufferedLayer(input, new FeatureMap(input.Size, 1, 1), maxBatch)
{
    public override Span<float> Forward(Span<float> input, int batch)
    {
        if (Input.Plane == 1)
            return input;
        var y = OutputFor(batch);
        var hw = Input.Plane;
        for (var c = 0; c < Input.Channels; c++)
        {
            for (var b = 0; b < batch; b++)
            {
                var src = input.Slice(((c * batch) + b) * hw, hw);
                for (var p = 0; p < hw; p++)
                    y[(((c * hw) + p) * batch) + b] = src[p];
            }
        }
        return y;
    }
}

/// <summary>Mean over each H × W plane: [C, B, H, W] → [C, B].</summary>
internal sealed class GlobalAveragePoolLayer(FeatureMap input, int maxBatch) : BufferedLayer(input, new FeatureMap(input.Channels, 1, 1), maxBatch)
{
    public override Span<float> Forward(Span<float> input, int batch)
    {
        var y = OutputFor(batch);
        var hw = Input.Plane;
        for (var p = 0; p < Input.Channels * batch; p++)
            y[p] = TensorPrimitives.Sum<float>(input.Slice(p * hw, hw)) / hw;
        return y;
    }
}

/// <summary>Layers run one after another.</summary>
internal sealed class SequenceLayer(FeatureMap input, IReadOnlyList<InferenceLayer> layers)
    : InferenceLayer(input, layers.Count == 0 ? input : layers[^1].Output)
{
    public IReadOnlyList<InferenceLayer> Layers => layers;

    public override IEnumerable<(string Name, IWeightMatrix Weights, int PerSample)> Weights => layers.SelectMany(l => l.Weights);

    public override Span<float> Forward(Span<float> input, int batch) => Forward(input, batch, 0);

    /// <summary>Layers <paramref name="first"/> onwards on <paramref name="input"/>.</summary>
    public Span<float> Forward(Span<float> input, int batch, int first)
    {
        // Indexed: foreach over the interface would box an enumerator on every call.
        for (var i = first; i < layers.Count; i++)
            input = layers[i].Forward(input, batch);
        return input;
    }

    public override void Dispose()
    {
        foreach (var l in layers)
            l.Dispose();
    }
}

/// <summary>ResNet's basic block: relu(main(x) + shortcut(x)), the shortcut the identity when absent.</summary>
internal sealed class ResidualLayer(SequenceLayer main, SequenceLayer? shortcut) : InferenceLayer(main.Input, main.Output)
{
    public override IEnumerable<(string Name, IWeightMatrix Weights, int PerSample)> Weights => main.Weights.Concat(shortcut?.Weights ?? []);

    public override Span<float> Forward(Span<float> input, int batch)
    {
        var n = Output.Size * batch;
        var s = shortcut is null ? input : shortcut.Forward(input, batch);
        var m = main.Forward(input, batch);
        TensorPrimitives.Add(m[..n], s[..n], m[..n]);
        TensorPrimitives.Max(m[..n], 0f, m[..n]);
        return m;
    }

    public override void Dispose()
    {
        main.Dispose();
        shortcut?.Dispose();
    }
}
