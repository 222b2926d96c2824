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
/// <remarks>
/// A large batch is split by samples over the cores, each core running its samples through every layer with buffers of its
/// own, so that no layer's activations move between the cores' caches and the cores join once per call rather than once
/// per product. It is split when each part keeps the products that carry the work at their kernels' full width
/// (<see cref="CoreSplit.FullWidth"/>: from 32 samples for dense Linear weights on AVX-512, 64 for sparse ones, a few for
/// convolutions); otherwise each product is split over the cores by itself.
/// </remarks>
public sealed partial class InferenceModel : IDisposable
{
    /// <summary>Network 0 runs whole batches; network p a batch's part p when it is split by samples over the cores.</summary>
    private readonly SequenceLayer[] _networks;
    private readonly AlignedFloats[] _inputs;

    /// <summary>The first layer's product from the samples as given, when the network starts with a Linear layer whose weights run in row ranges (<see cref="SampleInputProduct"/>).</summary>
    private readonly SampleInputProduct? _firstProduct;

    /// <summary>Fewest samples per part that keep every product's kernel at full speed (<see cref="CoreSplit.FullWidth"/>).</summary>
    private readonly int _narrowest;

    /// <summary>Multiply-adds per sample of the dense products: what decides whether a batch is worth splitting.</summary>
    private readonly long _multiplyAdds;
    private readonly object _gate = new();

    private InferenceModel(IModel<float> model, SequenceLayer[] networks, int maxBatch, int narrowest, int partCapacity)
    {
        Spec = model.Spec;
        InputShape = (int[])model.InputShape.Clone();
        NumClasses = model.NumClasses;
        MaxBatch = maxBatch;
        _networks = networks;
        _narrowest = narrowest;
        var network = networks[0];
        _inputs = [.. networks.Select((n, p) => new AlignedFloats((long)n.Input.Size * (p == 0 ? maxBatch : partCapacity)))];
        _firstProduct = network.Layers.Count > 0 && network.Layers[0] is LinearLayer { RunsFromSamples: true } && network.Input.Plane == 1 && CoreSplit.Cores > 1
            ? new SampleInputProduct(network.Input.Size, maxBatch)
            : null;
        _multiplyAdds = network.Weights.Sum(w => w.Weights.Rows * (long)w.Weights.Columns * w.PerSample);
        Weights = [.. network.Weights.Select(w => new InferenceWeights(w.Name, WeightFormats.Name(w.Weights), w.Weights.Rows, w.Weights.Columns, CountNonZeros(w.Weights), w.Weights.StoredBytes))];
    }

    /// <summary>
    /// Whether the first Linear product may run from the samples as given (<see cref="SampleInputProduct"/>); off, the
    /// batch is transposed into a shared buffer first. For benchmarks that compare the two in one process.
    /// </summary>
    internal bool FirstProductFromSamples { get; set; } = true;

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

    /// <summary>
    /// Per layer that lost some, the hidden units removed before compiling because their incoming weights were all zero
    /// (their constant outputs folded into the next layer's bias); empty when none were.
    /// </summary>
    public IReadOnlyList<UnitCount> RemovedUnits { get; private init; } = [];

    /// <summary>Bytes of all stored weight matrices.</summary>
    public long WeightBytes => Weights.Sum(w => w.StoredBytes);

    /// <summary>
    /// Compiles <paramref name="model"/> with dense weights, or with each weight in its smallest format and the hidden units
    /// whose incoming weights are all zero folded into the next layer's bias (<see cref="Create(IModel{float}, Func{string, float[], int, int, IWeightMatrix}, int, bool)"/>).
    /// </summary>
    /// <exception cref="NotSupportedException">The model has a layer the engine does not run.</exception>
    public static InferenceModel Create(IModel<float> model, InferenceEngine engine = InferenceEngine.Sparse, int maxBatch = 128) =>
        engine == InferenceEngine.Dense
            ? Create(model, (_, dense, rows, columns) => new DenseWeights(rows, columns, dense), maxBatch)
            : Create(model, (_, dense, rows, columns) => WeightFormats.Compress(dense, rows, columns), maxBatch, foldConstantUnits: true);

    /// <summary>
    /// Compiles <paramref name="model"/>, asking <paramref name="weights"/> for each Linear and Conv2d weight: it receives the
    /// parameter name, a copy of the dense values (row-major [out, in·k·k]) and the matrix shape, and returns the matrix to run.
    /// </summary>
    /// <param name="model">The model; it is not changed.</param>
    /// <param name="weights">The matrix to run for each weight.</param>
    /// <param name="maxBatch">Largest batch run at once.</param>
    /// <param name="foldConstantUnits">
    /// Whether a hidden unit whose incoming weights are all zero (pruning leaves some: 47 of the first layer's 300 in a
    /// 784-300-100-10 MLP pruned to 90% by global magnitude) is first removed, its constant output folded into the next
    /// layer's bias (<see cref="NeuronRemoval.Shrink"/>, exact to float32 rounding; sequential models only, others compile
    /// as they are). The engine then skips the next layer's entries that read it; <paramref name="weights"/> is asked for
    /// the smaller shapes.
    /// </param>
    /// <exception cref="NotSupportedException">The model has a layer the engine does not run.</exception>
    /// <exception cref="ArgumentException">A returned matrix has the wrong shape.</exception>
    public static InferenceModel Create(IModel<float> model, Func<string, float[], int, int, IWeightMatrix> weights, int maxBatch = 128, bool foldConstantUnits = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        var folded = foldConstantUnits ? NeuronRemoval.WithoutZeroUnits(model) : new NeuronRemovalResult(model, []);
        if (folded.Model is not Model<float> m)
            throw new NotSupportedException($"The inference engine compiles models built from layers (Model<float>); {model.GetType().Name} is not one.");
        var shape = model.InputShape;
        var input = shape.Length == 1 ? new FeatureMap(shape[0], 1, 1) : new FeatureMap(shape[0], shape[1], shape[2]);
        // A network per core beyond the first, sharing its weights, for batches split by samples.
        var compiled = new Dictionary<string, IWeightMatrix>();
        var networks = new List<SequenceLayer>();
        try
        {
            networks.Add(new Compiler(weights, maxBatch, compiled).Sequence(m.Root, "", input));
            if (networks[0].Output.Size != model.NumClasses)
                throw new NotSupportedException($"The compiled network of {model.Spec} gives {networks[0].Output.Size} outputs, not {model.NumClasses}.");
            var narrowest = Narrowest(networks[0]);
            var cores = maxBatch >= 2 * narrowest ? CoreSplit.Cores : 1;
            var capacity = PartCapacity(maxBatch, cores, narrowest);
            for (var p = 1; p < cores; p++)
                networks.Add(new Compiler(weights, capacity, compiled).Sequence(m.Root, "", input));
            return new InferenceModel(model, [.. networks], maxBatch, narrowest, capacity) { RemovedUnits = [.. folded.Units.Where(u => u.After < u.Before)] };
        }
        catch
        {
            foreach (var n in networks)
                n.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Fewest samples per part at which the products that carry at least a quarter of the multiply-adds keep their
    /// kernels' full width: a small layer run narrower (a LeNet's sparse classifier behind its convolutions) costs less than
    /// splitting every product over the cores.
    /// </summary>
    private static int Narrowest(SequenceLayer network)
    {
        var products = network.Weights.Select(w => (Work: w.Weights.Rows * (long)w.Weights.Columns * w.PerSample, Samples: (CoreSplit.FullWidth(w.Weights) + w.PerSample - 1) / w.PerSample)).ToArray();
        var total = products.Sum(p => p.Work);
        return products.Where(p => 4 * p.Work >= total).Select(p => p.Samples).DefaultIfEmpty(1).Max();
    }

    /// <summary>
    /// Most samples a part of a split batch holds: a batch of b is split into min(cores, b / narrowest) ≥ 2 parts of
    /// ⌈b / parts⌉, which is at most ⌈maxBatch / cores⌉ with a part per core, and below 2·narrowest with fewer.
    /// </summary>
    private static int PartCapacity(int maxBatch, int cores, int narrowest) =>
        Math.Min((maxBatch + 1) / 2, Math.Max((maxBatch + cores - 1) / cores, (2 * narrowest) - 1));

    /// <summary>
    /// Part size ⌈b / parts⌉ and the parts it takes: ⌈b / size⌉, which is fewer than <paramref name="parts"/> when there
    /// are more cores than that leaves samples for (5 samples over 4 cores: 3 parts of 2, 2 and 1), so that no part is empty.
    /// </summary>
    internal static (int Parts, int Size) Portions(int b, int parts)
    {
        var size = (b + parts - 1) / parts;
        return ((b + size - 1) / size, size);
    }

    /// <summary>
    /// Parts a batch of <paramref name="b"/> samples is split into (1: not split). A split that would leave more than half
    /// the cores idle is not taken: there each product split over all the cores is faster (on 14 cores of an H200 host,
    /// batch 64 of mlp:784-300-100-10 took 0.28 ms in 2 parts, while its 2:4 form with row-split products took 0.12).
    /// </summary>
    internal int Parts(int b)
    {
        if (_networks.Length < 2 || b < 2 * _narrowest || !CoreSplit.MaySplit || !CoreSplit.Worth(b * _multiplyAdds))
            return 1;
        var parts = Math.Min(b / _narrowest, _networks.Length);
        return 2 * parts < CoreSplit.Cores ? 1 : parts;
    }

    /// <summary>Logits [count, classes] (row-major) of the first <paramref name="count"/> samples of x [samples, …InputShape].</summary>
    public void Logits(ReadOnlySpan<float> x, int count, Span<float> logits)
    {
        var features = _networks[0].Input.Size;
        if (count < 0 || x.Length < (long)count * features || logits.Length < (long)count * NumClasses)
            throw new ArgumentException($"{count} samples need {(long)count * features} inputs and room for {(long)count * NumClasses} logits; got {x.Length} and {logits.Length}.");
        lock (_gate)
        {
            for (var s = 0; s < count; s += MaxBatch)
            {
                var b = Math.Min(MaxBatch, count - s);
                var parts = Parts(b);
                if (parts == 1)
                {
                    Run(0, x.Slice(s * features, b * features), b, logits.Slice(s * NumClasses, b * NumClasses));
                    continue;
                }

                (parts, var size) = Portions(b, parts);
                unsafe
                {
                    fixed (float* px = x, pl = logits)
                    {
                        var (xs, ls, classes) = ((nint)(px + ((nint)s * features)), (nint)(pl + ((nint)s * NumClasses)), NumClasses);
                        CoreSplit.Run(parts, p =>
                        {
                            var (i0, nb) = (p * size, Math.Min(size, b - (p * size)));
                            Run(p, new ReadOnlySpan<float>((float*)xs + ((nint)i0 * features), nb * features), nb, new Span<float>((float*)ls + ((nint)i0 * classes), nb * classes));
                        });
                    }
                }
            }
        }
    }

    /// <summary>Network <paramref name="p"/> on the b samples of <paramref name="x"/>, their logits into <paramref name="logits"/>.</summary>
    private void Run(int p, ReadOnlySpan<float> x, int b, Span<float> logits)
    {
        var network = _networks[p];
        if (p == 0 && _firstProduct is not null && FirstProductFromSamples && ((LinearLayer)network.Layers[0]).TryForwardSamples(_firstProduct, x, b, out var first))
        {
            Transposition.Transpose(network.Forward(first, b, 1), NumClasses, b, logits);
            return;
        }

        var input = _inputs[p].Span;
        var (features, plane, channels) = (network.Input.Size, network.Input.Plane, network.Input.Channels);
        if (plane == 1)
            Transposition.Transpose(x[..(b * features)], b, features, input);
        else
        {
            for (var i = 0; i < b; i++)
            {
                var sample = x.Slice(i * features, features);
                for (var c = 0; c < channels; c++)
                    sample.Slice(c * plane, plane).CopyTo(input.Slice(((c * b) + i) * plane, plane));
            }
        }

        var z = network.Forward(input, b);
        Transposition.Transpose(z, NumClasses, b, logits);
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
        foreach (var n in _networks)
            n.Dispose();
        foreach (var i in _inputs)
            i.Dispose();
        _firstProduct?.Dispose();
    }

    private static long CountNonZeros(IWeightMatrix w)
    {
        long n = 0;
        foreach (var v in w.ToDense())
            n += v != 0 ? 1 : 0;
        return n;
    }
}
