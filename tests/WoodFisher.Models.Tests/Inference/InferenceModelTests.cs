using WoodFisher.Kernels.Sparse;
using WoodFisher.Models.Inference;

namespace WoodFisher.Models.Tests.Inference;

/// <summary>
/// The inference engine's logits against the model's own forward pass (the autograd layers), dense and sparse, on
/// pruned weights. Tolerance: both are float32 with different summation orders through a few layers, so they differ by
/// a few units of float32 rounding of the largest logits: |Δ| ≤ 1e-4·(1 + max|z|).
/// </summary>
public sealed class InferenceModelTests
{
    public enum Pruning
    {
        None,
        Random90,
        TwoOfFour,
        Block4x1,
    }

    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (var spec in new[] { "mlp:784-300-100-10", "mlp:20-7-3:nobias", "lenet5", "cifarnet:3x16x16", "resnet20:3x8x8" })
        {
            foreach (var pruning in Enum.GetValues<Pruning>())
            {
                foreach (var engine in Enum.GetValues<InferenceEngine>())
                    yield return new TestCaseData(spec, pruning, engine).SetName($"{spec}_{pruning}_{engine}");
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void Logits_EqualModelForward(string spec, Pruning pruning, InferenceEngine engine)
    {
        var model = ModelFactory.Create(spec, seed: 3);
        Prune(model, pruning, seed: 4);
        var per = model.InputShape.Aggregate(1, (a, b) => a * b);
        var (x, y) = TestData.Random(37, per, model.NumClasses, seed: 5);
        var expected = Evaluation.Logits(model, x, 37);
        using var engineModel = InferenceModel.Create(model, engine, maxBatch: 16);
        var actual = engineModel.Logits(x, 37);
        AssertClose(actual, expected);

        // Batch 1 runs the matrix-vector products.
        var one = engineModel.Logits(x.AsSpan(per * 36, per), 1);
        AssertClose(one, expected.AsSpan(36 * model.NumClasses).ToArray());

        var r = engineModel.Evaluate(x, y, 37);
        var e = Evaluation.Evaluate(model, x, y, 37);
        Assert.That(r.Loss, Is.EqualTo(e.Loss).Within(1e-4 * (1 + Math.Abs(e.Loss))));
        if (engine == InferenceEngine.Sparse && pruning != Pruning.None)
            Assert.That(engineModel.Weights.Any(w => w.Format != "dense"), "a pruned model runs sparse");
    }

    [Test]
    public void Logits_OnRealImages_OneAtATime_EqualModelForward()
    {
        // Fashion-MNIST images are about half zeros, in whole blank windows at the borders, and ReLU zeros the hidden
        // units: the batch-1 kernels skip windows of zero inputs, which random inputs never exercise.
        var model = ModelFactory.Create("mlp:784-300-100-10", seed: 3);
        Prune(model, Pruning.Random90, seed: 4);
        var data = WoodFisher.Models.Data.DataSets.LoadEmbedded("test");
        const int count = 40;
        var expected = Evaluation.Logits(model, data.Images, count);
        foreach (var engine in Enum.GetValues<InferenceEngine>())
        {
            using var engineModel = InferenceModel.Create(model, engine, maxBatch: 64);
            for (var i = 0; i < count; i++)
                AssertClose(engineModel.Logits(data.GetImage(i), 1), expected.AsSpan(i * 10, 10).ToArray());
            AssertClose(engineModel.Logits(data.Images, count), expected);
        }
    }

    /// <summary>
    /// Batches split by samples over the cores (each part through every layer on its own core) give the model's logits, for
    /// parts that are whole two-register tiles or not, for formats that split only from 64 samples per part, and for a
    /// count past the largest batch (128 then 72). On two to four cores the split is checked to happen (2:4 at 64 samples
    /// splits only where 32 samples are four registers, on AVX2, so its parts are not checked); on more, a batch of two
    /// parts is rightly not split (see the next test). A 2:4 batch not split by samples runs its first product from the
    /// samples as given, each core transposing them for itself (64 and 100: tiles of four and two registers and columns
    /// past them).
    /// </summary>
    [TestCase("mlp:784-300-100-10", Pruning.None, InferenceEngine.Dense, 64, true)]
    [TestCase("mlp:784-300-100-10", Pruning.None, InferenceEngine.Dense, 97, true)]
    [TestCase("mlp:784-300-100-10", Pruning.TwoOfFour, InferenceEngine.Sparse, 64, false)]
    [TestCase("mlp:784-300-100-10", Pruning.TwoOfFour, InferenceEngine.Sparse, 100, false)]
    [TestCase("mlp:784-300-100-10", Pruning.TwoOfFour, InferenceEngine.Sparse, 128, true)]
    [TestCase("mlp:784-300-100-10", Pruning.Random90, InferenceEngine.Sparse, 200, true)]
    [TestCase("lenet5", Pruning.TwoOfFour, InferenceEngine.Sparse, 64, true)]
    [TestCase("lenet5", Pruning.None, InferenceEngine.Dense, 7, true)]
    [TestCase("lenet5", Pruning.None, InferenceEngine.Dense, 10, true)]
    [TestCase("resnet20:3x8x8", Pruning.Block4x1, InferenceEngine.Sparse, 40, true)]
    public void Logits_OfABatchSplitBySamples_EqualModelForward(string spec, Pruning pruning, InferenceEngine engine, int count, bool split)
    {
        var model = ModelFactory.Create(spec, seed: 3);
        Prune(model, pruning, seed: 4);
        var per = model.InputShape.Aggregate(1, (a, b) => a * b);
        var (x, _) = TestData.Random(count, per, model.NumClasses, seed: 6);
        var expected = Evaluation.Logits(model, x, count);
        using var engineModel = InferenceModel.Create(model, engine, maxBatch: 128);
        AssertClose(engineModel.Logits(x, count), expected);
        if (split && CoreSplit.Cores is >= 2 and <= 4)
            Assert.That(engineModel.Parts(Math.Min(count, 128)), Is.GreaterThanOrEqualTo(2), "parts of the first batch");
    }

    /// <summary>
    /// A batch is split by samples only into parts that keep at least half the cores busy; otherwise each product splits
    /// over all of them. Meaningful where .NET sees more cores than two (DOTNET_PROCESSOR_COUNT=8 here, 16 on the GPU host).
    /// </summary>
    [Test]
    public void Parts_LeaveNoMoreThanHalfTheCoresIdle()
    {
        var model = ModelFactory.Create("mlp:784-300-100-10", seed: 3);
        using var engineModel = InferenceModel.Create(model, InferenceEngine.Dense, maxBatch: 300);
        for (var b = 1; b <= 300; b++)
        {
            var parts = engineModel.Parts(b);
            Assert.That(parts == 1 || 2 * parts >= CoreSplit.Cores, $"b = {b}: {parts} parts on {CoreSplit.Cores} cores");
        }

        if (CoreSplit.Cores == 2)
            Assert.That(engineModel.Parts(64), Is.EqualTo(2), "64 samples on 2 cores");
    }

    /// <summary>Every split of a batch over up to 16 cores leaves no part empty and covers the batch, parts no larger than ⌈b / cores⌉.</summary>
    [Test]
    public void Portions_LeaveNoPartEmpty_OnAnyNumberOfCores()
    {
        for (var cores = 2; cores <= 16; cores++)
        {
            for (var b = cores; b <= 300; b++)
            {
                var (parts, size) = InferenceModel.Portions(b, cores);
                Assert.That(parts, Is.InRange(2, cores), $"b = {b}, {cores} cores");
                Assert.That(size, Is.EqualTo((b + cores - 1) / cores), $"b = {b}, {cores} cores");
                Assert.That((parts - 1) * size, Is.LessThan(b), $"b = {b}, {cores} cores: the last part is empty");
                Assert.That(parts * size, Is.GreaterThanOrEqualTo(b), $"b = {b}, {cores} cores: samples left out");
            }
        }
    }

    [Test]
    public void SparseEngine_ChoosesTheFormatThePruningMade()
    {
        var model = ModelFactory.Create("mlp:784-300-100-10", seed: 3);
        Prune(model, Pruning.TwoOfFour, seed: 1);
        using var nm = InferenceModel.Create(model);
        Assert.That(nm.Weights.Select(w => w.Format), Is.EqualTo(new[] { "2:4", "2:4", "2:4" }));
        Prune(model, Pruning.Random90, seed: 1);
        using var csr = InferenceModel.Create(model);
        Assert.That(csr.Weights[0].Format, Is.EqualTo("csr"));
        Assert.That(csr.WeightBytes, Is.LessThan(0.25 * 4 * 266_200));
        using var dense = InferenceModel.Create(model, InferenceEngine.Dense);
        Assert.That(dense.WeightBytes, Is.EqualTo(4L * 266_200));
    }

    [Test]
    public void Create_RefusesLayersItDoesNotRun()
    {
        Assert.That(() => InferenceModel.Create(new NotALayerModel()), Throws.TypeOf<NotSupportedException>());
    }

    /// <summary>Zeros the Linear/Conv2d weights outside the pattern (a mask like the pruner's).</summary>
    internal static void Prune(IModel<float> model, Pruning pruning, int seed)
    {
        var rng = new Random(seed);
        foreach (var p in model.Parameters.Where(p => p.IsPrunable))
        {
            var rows = p.Shape[0];
            var cols = p.Length / rows;
            for (var r = 0; r < rows; r++)
            {
                for (var j = 0; j < cols; j++)
                {
                    var keep = pruning switch
                    {
                        Pruning.None => true,
                        Pruning.Random90 => rng.NextDouble() < 0.1,
                        Pruning.TwoOfFour => (j % 4) == ((r + (j / 4)) % 4) || (j % 4) == ((r + (j / 4) + 2) % 4),
                        _ => (((r / 4) * 7) + j) % 10 == 0,
                    };
                    if (!keep)
                        p.Data[(r * cols) + j] = 0;
                }
            }
        }
    }

    /// <summary>Logits within 1e-4·(1 + max|z|) of the reference's (the tolerance the class states); <paramref name="what"/> names the case.</summary>
    internal static void AssertClose(float[] actual, float[] expected, string what = "", string reference = "model")
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        var scale = 1 + expected.Max(Math.Abs);
        for (var i = 0; i < actual.Length; i++)
        {
            if (!(Math.Abs(actual[i] - expected[i]) <= 1e-4 * scale))
                Assert.Fail($"{what}: logit {i}: engine {actual[i]:R}, {reference} {expected[i]:R} (tolerance {1e-4 * scale:G3})");
        }
    }

    private sealed class NotALayerModel : IModel<float>
    {
        public string Spec => "custom";

        public int[] InputShape => [4];

        public int NumClasses => 2;

        public IReadOnlyList<Autograd.Parameter<float>> Parameters => [];

        public bool Training { get; set; }

        public Autograd.Tensor<float> Forward(Autograd.Tape<float> tape, Autograd.Tensor<float> x) => throw new NotSupportedException();

        public NamedTensors StateDict() => [];

        public void LoadStateDict(NamedTensors state, bool strict = true)
        {
        }
    }
}
