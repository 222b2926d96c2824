using BenchmarkDotNet.Attributes;
using WoodFisher.Models;
using WoodFisher.Models.Inference;
using WoodFisher.Pruning;

namespace WoodFisher.Bench;

/// <summary>
/// Question: how much faster than dense does the inference engine run mlp:784-300-100-10 (d = 266,200 weights) when
/// pruned (magnitude, which sets the same pattern as any method would) to 90% unstructured (CSR), 2:4 (N:M) or half of its
/// hidden units removed (the smaller model, dense), at batch 1 (matrix-vector products) and batch 64? Dense is the
/// baseline: the same engine with every weight dense (four rows per pass over x at batch 1, the packed GEMM at 64).
/// Run: <c>dotnet run -c Release --project bench/WoodFisher.Bench -- --filter '*SparseInference*'</c>.
/// </summary>
[MemoryDiagnoser]
public class SparseInferenceBenchmarks
{
    private InferenceModel _dense = null!;
    private InferenceModel _sparse = null!;
    private float[] _x = null!;
    private float[] _logits = null!;

    /// <summary>What was pruned.</summary>
    [Params("unstructured-90", "2:4", "neurons-50")]
    public string Pruning { get; set; } = "unstructured-90";

    /// <summary>Samples per call.</summary>
    [Params(1, 64)]
    public int Batch { get; set; } = 1;

    /// <summary>The dense and the pruned engine, random inputs.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var model = ModelFactory.Create("mlp:784-300-100-10", seed: 1);
        _dense = InferenceModel.Create(model, InferenceEngine.Dense, Batch);
        _sparse = InferenceModel.Create(Pruned(model, Pruning), InferenceEngine.Sparse, Batch);
        var rng = new Random(2);
        _x = Enumerable.Range(0, 784 * Batch).Select(_ => (float)rng.NextDouble()).ToArray();
        _logits = new float[10 * Batch];
    }

    /// <summary>The model pruned by magnitude under the pattern (for neurons, the smaller model).</summary>
    internal static IModel<float> Pruned(IModel<float> model, string pruning)
    {
        var (pattern, sparsity) = pruning switch
        {
            "unstructured-90" => (PruningPattern.Unstructured, 0.9),
            "2:4" => (PruningPattern.NofM(2, 4), 0.5),
            _ => (PruningPattern.Neurons, 0.5),
        };
        var pruned = ModelFactory.Create(model.Spec);
        pruned.LoadStateDict(model.StateDict());
        var selection = ParameterSelection<float>.Prunable(pruned);
        var w = new float[selection.Dimension];
        selection.Gather(w);
        var options = new PrunerOptions
        {
            Method = PruningMethod.Magnitude,
            Update = UpdateMode.None,
            Sparsity = sparsity,
            Pattern = pattern,
            Segments = selection.Segments,
            SegmentShapes = [.. selection.Entries.Select(e => e.Shape)],
        };
        var result = new Pruner(options).Prune(Array.ConvertAll(w, v => (double)v), factory: null);
        selection.Scatter(Array.ConvertAll(result.Weights, v => (float)v));
        return pattern.Kind == PatternKind.Neurons ? NeuronRemoval.Shrink(pruned).Model : pruned;
    }

    /// <summary>Every weight dense.</summary>
    [Benchmark(Baseline = true)]
    public void Dense() => _dense.Logits(_x, Batch, _logits);

    /// <summary>The pruned model, each weight in its smallest format.</summary>
    [Benchmark]
    public void Sparse() => _sparse.Logits(_x, Batch, _logits);

    [GlobalCleanup]
    public void Cleanup()
    {
        _dense.Dispose();
        _sparse.Dispose();
    }
}
