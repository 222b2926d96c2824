using WoodFisher.Kernels;
using WoodFisher.Kernels.Sparse;
using WoodFisher.Models.Layers;

namespace WoodFisher.Models.Inference;

/// <summary>Which weight storage the inference engine runs on.</summary>
public enum InferenceEngine
{
    /// <summary>Every Linear and Conv2d weight dense (the baseline).</summary>
    Dense,

    /// <summary>Each Linear and Conv2d weight in the format that stores it in the fewest bytes (<see cref="WeightFormats.Compress"/>): CSR, N:M, block-sparse, or dense when that is smallest.</summary>
    Sparse,
}

/// <summary>One weight matrix of an <see cref="InferenceModel"/>: its parameter name, format and size.</summary>
/// <param name="Name">Parameter name, e.g. <c>fc1.weight</c>.</param>
/// <param name="Format">Format name as <see cref="WeightFormats.Name"/> writes it (dense, csr, 2:4, block:4x1).</param>
/// <param name="Rows">Output features.</param>
/// <param name="Columns">Input features (in·k·k for a convolution).</param>
/// <param name="NonZeros">Non-zero weights.</param>
/// <param name="StoredBytes">Bytes of the stored arrays.</param>
public sealed record InferenceWeights(string Name, string Format, int Rows, int Columns, long NonZeros, long StoredBytes);

/// <summary>
/// A model compiled for inference only, with every Linear and Conv2d weight held as an <see cref="IWeightMatrix"/>: dense for
/// the baseline, or sparse (CSR, N:M, block) so that pruned weights cost neither time nor bytes. Runs the layers of
/// sequential models (Linear, Conv2d, ReLU, max and average pooling, BatchNorm in eval mode, Dropout as identity, flatten,
/// global average pooling) and ResNet basic blocks; its logits equal the model's own forward pass to float32 rounding.
/// Buffers are held for batches of up to <see cref="MaxBatch"/> samples; calls must not overlap.
/// </summary>
public sealed class InferenceModel : IDisposable
{
    private readonly SequenceLayer _network;
    private readonly AlignedFloats _input;
    private readonly object _gate = new();

    private InferenceModel(IModel<float> model, SequenceLayer network, int maxBatch)
    {
        Spec = model.Spec;
        InputShape = (int[])model.InputShape.Clone();
        NumClasses = model.NumClasses;
        MaxBatch = maxBatch;
        _network = network;
        _input = new AlignedFloats((long)network.Input.Size * maxBatch);
        Weights = [.. network.Weights.Select(w => new InferenceWeights(w.Name, WeightFormats.Name(w.Weights), w.Weights.Rows, w.Weights.Columns, CountNonZeros(w.Weights), w.Weights.StoredBytes))];
    }

    /// <summary>The model spec.</summary>
    public string Spec { get; }

    /// <summary>Per-sample input shape.</summary>
    public int[] InputShape { get; }

    /// <summary>Logits per sample.</summary>
    public int NumClasses { get; }

    /// <summary>Largest batch run at once; longer inputs run in batches of this size.</summary>
    public int MaxBatch { get; }

    /// <summary>The weight matrices, in model order.</summary>
    public IReadOnlyList<InferenceWeights> Weights { get; }

    /// <summary>Bytes of all stored weight matrices.</summary>
    public long WeightBytes => Weights.Sum(w => w.StoredBytes);

    /// <summary>Compiles <paramref name="model"/> with dense weights or with each weight in its smallest format.</summary>
    /// <exception cref="NotSupportedException">The model has a layer the engine does not run.</exception>
    public static InferenceModel Create(IModel<float> model, InferenceEngine engine = InferenceEngine.Sparse, int maxBatch = 128) =>
        Create(model, (name, dense, rows, columns) => engine == InferenceEngine.Dense
            ? new DenseWeights(rows, columns, dense)
            : WeightFormats.Compress(dense, rows, columns), maxBatch);

    /// <summary>
    /// Compiles <paramref name="model"/>, asking <paramref name="weights"/> for each Linear and Conv2d weight: it receives the
    /// parameter name, a copy of the dense values (row-major [out, in·k·k]) and the matrix shape, and returns the matrix to run.
    /// </summary>
    /// <exception cref="NotSupportedException">The model has a layer the engine does not run.</exception>
    /// <exception cref="ArgumentException">A returned matrix has the wrong shape.</exception>
    public static InferenceModel Create(IModel<float> model, Func<string, float[], int, int, IWeightMatrix> weights, int maxBatch = 128)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        if (model is not Model<float> m)
            throw new NotSupportedException($"The inference engine compiles models built from layers (Model<float>); {model.GetType().Name} is not one.");
        var shape = model.InputShape;
        var input = shape.Length == 1 ? new FeatureMap(shape[0], 1, 1) : new FeatureMap(shape[0], shape[1], shape[2]);
        var compiler = new Compiler(weights, maxBatch);
        var network = compiler.Sequence(m.Root, "", input);
        if (network.Output.Size != model.NumClasses)
        {
            network.Dispose();
            throw new NotSupportedException($"The compiled network of {model.Spec} gives {network.Output.Size} outputs, not {model.NumClasses}.");
        }

        return new InferenceModel(model, network, maxBatch);
    }

    /// <summary>Logits [count, classes] (row-major) of the first <paramref name="count"/> samples of x [samples, …InputShape].</summary>
    public void Logits(ReadOnlySpan<float> x, int count, Span<float> logits)
    {
        var features = _network.Input.Size;
        if (count < 0 || x.Length < (long)count * features || logits.Length < (long)count * NumClasses)
            throw new ArgumentException($"{count} samples need {(long)count * features} inputs and room for {(long)count * NumClasses} logits; got {x.Length} and {logits.Length}.");
        lock (_gate)
        {
            for (var s = 0; s < count; s += MaxBatch)
            {
                var b = Math.Min(MaxBatch, count - s);
                var input = _input.Span;
                var plane = _network.Input.Plane;
                var channels = _network.Input.Channels;
                if (plane == 1)
                    Transposition.Transpose(x.Slice(s * features, b * features), b, features, input);
                else
                {
                    for (var i = 0; i < b; i++)
                    {
                        var sample = x.Slice((s + i) * features, features);
                        for (var c = 0; c < channels; c++)
                            sample.Slice(c * plane, plane).CopyTo(input.Slice(((c * b) + i) * plane, plane));
                    }
                }

                var z = _network.Forward(input, b);
                Transposition.Transpose(z, NumClasses, b, logits.Slice(s * NumClasses, b * NumClasses));
            }
        }
    }

    /// <summary>Logits [count, classes] of the first <paramref name="count"/> samples.</summary>
    public float[] Logits(ReadOnlySpan<float> x, int count)
    {
        var r = new float[(long)count * NumClasses];
        Logits(x, count, r);
        return r;
    }

    /// <summary>Mean cross-entropy and accuracy over the first <paramref name="count"/> samples.</summary>
    public EvaluationResult Evaluate(ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int count) =>
        Evaluation.FromLogits<float>(Logits(x, count), labels, count, NumClasses);

    /// <summary>Frees the buffers.</summary>
    public void Dispose()
    {
        _network.Dispose();
        _input.Dispose();
    }

    private static long CountNonZeros(IWeightMatrix w)
    {
        long n = 0;
        foreach (var v in w.ToDense())
            n += v != 0 ? 1 : 0;
        return n;
    }

    /// <summary>Walks the module tree into engine layers, tracking the feature map.</summary>
    private sealed class Compiler(Func<string, float[], int, int, IWeightMatrix> weights, int maxBatch)
    {
        public SequenceLayer Sequence(Module<float> module, string prefix, FeatureMap input)
        {
            var layers = new List<InferenceLayer>();
            try
            {
                var map = input;
                foreach (var l in Layers(module, prefix, map))
                {
                    // The product applies a ReLU that follows a Linear layer to each part it computes, while the part is in
                    // the cache of the core that wrote it.
                    if (l is ReluLayer && layers.Count > 0 && layers[^1] is LinearLayer { Relu: false } linear)
                    {
                        linear.Relu = true;
                        continue;
                    }

                    layers.Add(l);
                    map = l.Output;
                }
                return new SequenceLayer(input, layers);
            }
            catch
            {
                foreach (var l in layers)
                    l.Dispose();
                throw;
            }
        }

        private IEnumerable<InferenceLayer> Layers(Module<float> module, string prefix, FeatureMap map)
        {
            switch (module)
            {
                case Sequential<float> s:
                    foreach (var (name, child) in s.Children)
                    {
                        var seq = Sequence(child, prefix + name + ".", map);
                        map = seq.Output;
                        if (seq.Layers.Count == 1)
                            yield return seq.Layers[0];
                        else
                            yield return seq;
                    }
                    break;
                case Linear<float> l:
                    if (map.Size != l.Weight.Shape[1])
                        throw new NotSupportedException($"{prefix}weight takes {l.Weight.Shape[1]} inputs but the layer before gives {map}.");
                    yield return new LinearLayer(prefix + "weight", Matrix(prefix + "weight", l.Weight.Data, l.Weight.Shape[0], l.Weight.Shape[1]),
                        l.Bias?.ToFloats(), new FeatureMap(map.Size, 1, 1), maxBatch);
                    break;
                case Conv2d<float> c:
                    {
                        var (cout, cin, k) = (c.Weight.Shape[0], c.Weight.Shape[1], c.Weight.Shape[2]);
                        if (map.Channels != cin || map.Height == 1 && map.Width == 1 && k > 1)
                            throw new NotSupportedException($"{prefix}weight takes {cin} channels but the layer before gives {map}.");
                        yield return new ConvolutionLayer(prefix + "weight", Matrix(prefix + "weight", c.Weight.Data, cout, cin * k * k),
                            c.Bias?.ToFloats(), map, k, c.Stride, c.Padding, maxBatch);
                        break;
                    }
                case Relu<float>:
                    yield return new ReluLayer(map);
                    break;
                case Dropout<float>:
                    break;
                case MaxPool2d<float> p:
                    yield return new PoolLayer(map, p.Kernel, p.Stride, max: true, maxBatch);
                    break;
                case AvgPool2d<float> p:
                    yield return new PoolLayer(map, p.Kernel, p.Stride, max: false, maxBatch);
                    break;
                case Flatten<float>:
                    yield return new FlattenLayer(map, maxBatch);
                    break;
                case GlobalAvgPool2d<float>:
                    yield return new GlobalAveragePoolLayer(map, maxBatch);
                    break;
                case BatchNorm2d<float> bn:
                    yield return BatchNorm(bn, map);
                    break;
                case BasicBlock<float> block:
                    yield return Residual(block, prefix, map);
                    break;
                default:
                    throw new NotSupportedException($"The inference engine does not run {module.GetType().Name.Split('`')[0]} ({prefix.TrimEnd('.')}).");
            }
        }

        private ResidualLayer Residual(BasicBlock<float> block, string prefix, FeatureMap map)
        {
            var children = block.Children.ToDictionary(c => c.Name, c => c.Module);
            var main = new Sequential<float>()
                .Add("conv1", children["conv1"]).Add("bn1", children["bn1"]).Add("relu", new Relu<float>())
                .Add("conv2", children["conv2"]).Add("bn2", children["bn2"]);
            var m = Sequence(main, prefix, map);
            try
            {
                var s = children.TryGetValue("shortcut", out var shortcut) ? Sequence(shortcut, prefix + "shortcut.", map) : null;
                return new ResidualLayer(m, s);
            }
            catch
            {
                m.Dispose();
                throw;
            }
        }

        private static AffineChannelLayer BatchNorm(BatchNorm2d<float> bn, FeatureMap map)
        {
            var c = map.Channels;
            var scale = new float[c];
            var shift = new float[c];
            for (var i = 0; i < c; i++)
            {
                var s = bn.Weight.Data[i] / MathF.Sqrt(bn.RunningVar.Data[i] + 1e-5f);
                scale[i] = s;
                shift[i] = bn.Bias.Data[i] - (bn.RunningMean.Data[i] * s);
            }
            return new AffineChannelLayer(map, scale, shift);
        }

        private IWeightMatrix Matrix(string name, float[] data, int rows, int columns)
        {
            MemoryBudget.Require(MemoryBudget.Product(rows, columns, sizeof(float)), $"The weight {name} ({rows} × {columns})");
            var m = weights(name, (float[])data.Clone(), rows, columns);
            if (m.Rows != rows || m.Columns != columns)
                throw new ArgumentException($"The matrix given for {name} is {m.Rows} × {m.Columns}; the layer needs {rows} × {columns}.");
            return m;
        }
    }
}
