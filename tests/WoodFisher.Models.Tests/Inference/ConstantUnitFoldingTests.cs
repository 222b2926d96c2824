using WoodFisher.Kernels.Sparse;
using WoodFisher.Models.Inference;
using WoodFisher.Models.Tests.IO;
using Pruning = WoodFisher.Models.Tests.Inference.InferenceModelTests.Pruning;

namespace WoodFisher.Models.Tests.Inference;

/// <summary>
/// The sparse engine removes hidden units whose incoming weights are all zero, folding their constant output into the next
/// layer's bias: its logits still equal the model's own forward pass (the oracle: the autograd layers on the unchanged
/// model), one sample at a time and in batches, while its matrices are smaller. Units with a positive bias behind a ReLU
/// give a non-zero constant (folded), with a negative one zero (dropped). Tolerance as in <see cref="InferenceModelTests"/>:
/// |Δ| ≤ 1e-4·(1 + max|z|), float32 on both sides in other orders.
/// </summary>
public sealed class ConstantUnitFoldingTests
{
    [TestCase("mlp:784-300-100-10")]
    [TestCase("mlp:20-9-7-3:nobias")]
    [TestCase("lenet5")]
    public void SparseEngine_FoldsZeroUnits_AndKeepsTheLogits(string spec)
    {
        var model = ModelFactory.Create(spec, seed: 3);
        InferenceModelTests.Prune(model, Pruning.Random90, seed: 4);
        var zeroed = ZeroUnits(model);
        var per = model.InputShape.Aggregate(1, (a, b) => a * b);
        var (x, _) = TestData.Random(37, per, model.NumClasses, seed: 5);
        var expected = Evaluation.Logits(model, x, 37);

        using var sparse = InferenceModel.Create(model, InferenceEngine.Sparse, maxBatch: 16);
        using var dense = InferenceModel.Create(model, InferenceEngine.Dense, maxBatch: 16);
        InferenceModelTests.AssertClose(sparse.Logits(x, 37), expected, "sparse, batches of 16");
        for (var i = 0; i < 3; i++)
            InferenceModelTests.AssertClose(sparse.Logits(x.AsSpan(i * per, per), 1), expected.AsSpan(i * model.NumClasses, model.NumClasses).ToArray(), $"sparse, sample {i} alone");
        InferenceModelTests.AssertClose(dense.Logits(x, 37), expected, "dense");

        var shapes = model.Parameters.Where(p => p.IsPrunable).Select(p => (p.Shape[0], p.Length / p.Shape[0])).ToArray();
        Assert.That(dense.Weights.Select(w => (w.Rows, w.Columns)), Is.EqualTo(shapes), "the dense engine keeps every unit");
        Assert.That(sparse.Spec, Is.EqualTo(model.Spec));
        foreach (var (layer, count) in zeroed)
        {
            var at = Array.FindIndex(model.Parameters.Where(p => p.IsPrunable).ToArray(), p => p.Name == layer + ".weight");
            Assert.That(sparse.Weights[at].Rows, Is.LessThanOrEqualTo(shapes[at].Item1 - count), $"{layer}: its {count} zeroed units are removed");
            Assert.That(sparse.Weights[at + 1].Columns, Is.LessThan(shapes[at + 1].Item2), $"the layer after {layer} reads fewer inputs");
        }
    }

    [Test]
    public void CompressedFile_RunsItsStoredMatrices_WhereTheirShapeStays()
    {
        using var dir = new TempDir();
        var model = ModelFactory.Create("mlp:784-300-100-10", seed: 3);
        InferenceModelTests.Prune(model, Pruning.Random90, seed: 4);
        // fc2's units stay: fc1's zero units change only fc1's rows and fc2's columns, and fc3 keeps its stored format.
        ZeroUnits(model, only: "fc1");
        CompressedModelFiles.Save(model, dir.File("c.safetensors"), (name, dense, rows, columns) => name == "fc3.weight"
            ? WeightFormats.Create("block:4x1", dense, rows, columns)
            : WeightFormats.Compress(dense, rows, columns));
        var loaded = CompressedModelFiles.Load(dir.File("c.safetensors"));
        var (x, _) = TestData.Random(9, 784, 10, seed: 1);
        using var engine = loaded.CreateEngine();
        InferenceModelTests.AssertClose(engine.Logits(x, 9), Evaluation.Logits(model, x, 9), "compressed file");
        InferenceModelTests.AssertClose(engine.Logits(x.AsSpan(0, 784), 1), Evaluation.Logits(model, x, 1), "compressed file, one sample");
        Assert.That(engine.Weights.Select(w => (w.Rows, w.Columns)), Is.EqualTo(new[] { (300 - 25, 784), (100, 300 - 25), (10, 100) }));
        Assert.That(engine.Weights[2].Format, Is.EqualTo("block:4x1"), "fc3's stored matrix runs as stored");
    }

    [Test]
    public void FactoryOverload_FoldsOnlyWhenAsked()
    {
        var model = ModelFactory.Create("mlp:784-300-100-10", seed: 3);
        InferenceModelTests.Prune(model, Pruning.Random90, seed: 4);
        ZeroUnits(model, only: "fc1");
        using var kept = InferenceModel.Create(model, (_, d, r, c) => WeightFormats.Compress(d, r, c));
        using var folded = InferenceModel.Create(model, (_, d, r, c) => WeightFormats.Compress(d, r, c), foldConstantUnits: true);
        Assert.That(kept.Weights[0].Rows, Is.EqualTo(300));
        Assert.That(kept.RemovedUnits, Is.Empty);
        Assert.That(folded.Weights[0].Rows, Is.EqualTo(275));
        Assert.That(folded.RemovedUnits, Is.EqualTo(new[] { new UnitCount("fc1", 300, 275, 0) }));
        var (x, _) = TestData.Random(5, 784, 10, seed: 2);
        InferenceModelTests.AssertClose(folded.Logits(x, 5), kept.Logits(x, 5), "folded against kept");
    }

    /// <summary>A hidden layer pruned away entirely: one unit is kept (a layer needs a width), the network's output is a constant.</summary>
    [Test]
    public void WholeHiddenLayerZero_LeavesOneUnit_AndTheConstantLogits()
    {
        var model = ModelFactory.Create("mlp:784-300-100-10", seed: 3);
        InferenceModelTests.Prune(model, Pruning.Random90, seed: 4);
        Array.Clear(model.Parameters.Single(p => p.Name == "fc2.weight").Data);
        var (x, _) = TestData.Random(6, 784, 10, seed: 2);
        var expected = Evaluation.Logits(model, x, 6);
        using var engine = InferenceModel.Create(model, InferenceEngine.Sparse, maxBatch: 4);
        Assert.That(engine.Weights[1].Rows, Is.EqualTo(1));
        Assert.That(engine.Weights[2].Columns, Is.EqualTo(1));
        InferenceModelTests.AssertClose(engine.Logits(x, 6), expected, "batches");
        InferenceModelTests.AssertClose(engine.Logits(x.AsSpan(0, 784), 1), expected.AsSpan(0, 10).ToArray(), "one sample");
    }

    [Test]
    public void ModelWithoutZeroUnits_IsCompiledAsItIs()
    {
        var model = ModelFactory.Create("mlp:784-300-100-10", seed: 3);
        Assert.That(NeuronRemoval.WithoutZeroUnits(model).Model, Is.SameAs(model));
        Assert.That(NeuronRemoval.WithoutZeroUnits(model).Units, Is.Empty);
        var resnet = ModelFactory.Create("resnet20:3x8x8", seed: 3);
        Assert.That(NeuronRemoval.WithoutZeroUnits(resnet).Model, Is.SameAs(resnet), "ResNet's channels are shared; it is not shrunk");
    }

    /// <summary>
    /// Zeros the incoming weights of 25 units of each hidden layer (5 of a narrow one; for LeNet-5 one filter of each
    /// convolution and 12 units of each hidden Linear layer), giving half of them a positive bias and half a negative one.
    /// </summary>
    private static List<(string Layer, int Count)> ZeroUnits(IModel<float> model, string? only = null)
    {
        var producers = model.Parameters.Where(p => p.IsPrunable).SkipLast(1).ToArray();
        var zeroed = new List<(string, int)>();
        foreach (var w in producers)
        {
            var layer = w.Name[..^".weight".Length];
            if (only is not null && layer != only)
                continue;
            var rows = w.Shape[0];
            var columns = w.Length / rows;
            var count = w.Shape.Length == 4 ? 1 : rows >= 100 ? 25 : rows >= 50 ? 12 : 2;
            var bias = model.Parameters.SingleOrDefault(p => p.Name == layer + ".bias");
            for (var k = 0; k < count; k++)
            {
                var u = (k * 7 + 3) % rows;
                Array.Clear(w.Data, u * columns, columns);
                if (bias is not null)
                    bias.Data[u] = k % 2 == 0 ? 0.5f + k : -0.5f - k;
            }
            zeroed.Add((layer, count));
        }

        return zeroed;
    }
}
