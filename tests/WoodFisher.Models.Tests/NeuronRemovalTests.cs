using WoodFisher.Models.Tests.IO;

namespace WoodFisher.Models.Tests;

/// <summary>
/// A model whose units have zero incoming weights, shrunk to the smaller dense model: same outputs as the masked model
/// (float32, tolerance 1e-4·(1 + max|z|) for the different summation lengths), the new widths in the spec, and PyTorch
/// loading the smaller safetensors and computing the same logits.
/// </summary>
public sealed class NeuronRemovalTests
{
    [TestCase("mlp:784-300-100-10", new[] { 150, 50 }, "mlp:784-150-50-10")]
    [TestCase("mlp:20-9-7-3:nobias", new[] { 4, 6 }, "mlp:20-4-6-3:nobias")]
    [TestCase("lenet5", new[] { 3, 8, 60, 42 }, "lenet5:1x28x28:3-8-60-42")]
    [TestCase("cifarnet:3x16x16", new[] { 32, 20, 100 }, "cifarnet:3x16x16:32-20-100")]
    public void ShrunkModel_ComputesTheMaskedModel(string spec, int[] keep, string expectedSpec)
    {
        var model = ModelFactory.Create(spec, seed: 1);
        RemoveUnits(model, keep, seed: 2);
        var result = NeuronRemoval.Shrink(model);
        Assert.That(result.Model.Spec, Is.EqualTo(expectedSpec));
        Assert.That(result.Units.Select(u => u.After), Is.EqualTo(keep));
        AssertSameLogits(model, result.Model);
    }

    [Test]
    public void ConstantUnitBeforeAPaddedConvolution_IsKept_UnlessItsBiasIsZero()
    {
        // CifarNet's conv2 pads by 1: a removed conv1 filter with a positive bias feeds it a constant map whose border differs.
        var model = ModelFactory.Create("cifarnet:3x8x8", seed: 3);
        var conv1 = model.Parameters.Single(p => p.Name == "conv1.weight");
        var bias = model.Parameters.Single(p => p.Name == "conv1.bias");
        conv1.Data.AsSpan(0, 27 * 2).Clear();
        (bias.Data[0], bias.Data[1]) = (0.5f, -0.5f);
        var result = NeuronRemoval.Shrink(model);
        Assert.That(result.Units[0], Is.EqualTo(new UnitCount("conv1", 32, 31, 1)), "the +0.5 filter stays, relu(−0.5) = 0 goes");
        AssertSameLogits(model, result.Model);
    }

    [Test]
    public void ResNet_IsRefused()
    {
        Assert.That(() => NeuronRemoval.Shrink(ModelFactory.Create("resnet20:3x8x8")), Throws.TypeOf<NotSupportedException>().With.Message.Contains("residual"));
    }

    [Test]
    [Category("Interop")]
    public void ShrunkLeNet5_LoadsIntoPyTorch_AndGivesTheSameLogits()
    {
        using var dir = new TempDir();
        var model = ModelFactory.Create("lenet5", seed: 4);
        RemoveUnits(model, [4, 10, 70, 50], seed: 5);
        var smaller = NeuronRemoval.Shrink(model).Model;
        ModelFiles.Save(smaller, dir.File("small.safetensors"));
        Assert.That(ModelFiles.Load(dir.File("small.safetensors")).Spec, Is.EqualTo("lenet5:1x28x28:4-10-70-50"));
        var (x, _) = TestData.Random(3, 784, 10, seed: 6);
        WoodFisher.IO.Npy.Write(dir.File("x.npy"), WoodFisher.IO.NdArray.Create(x, 3, 1, 28, 28));
        var got = Torch.Run("""
            import torch.nn as nn
            state = {k: torch.from_numpy(v) for k, v in read_safetensors(sys.argv[1])[0].items()}
            c1, c2, f1, f2 = state['conv1.weight'].shape[0], state['conv2.weight'].shape[0], state['fc1.weight'].shape[0], state['fc2.weight'].shape[0]
            class LeNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv1 = nn.Conv2d(1, c1, 5, padding=2); self.conv2 = nn.Conv2d(c1, c2, 5)
                    self.fc1 = nn.Linear(c2 * 25, f1); self.fc2 = nn.Linear(f1, f2); self.fc3 = nn.Linear(f2, 10)
                def forward(self, x):
                    x = torch.max_pool2d(torch.relu(self.conv1(x)), 2); x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
                    x = torch.relu(self.fc1(x.flatten(1))); x = torch.relu(self.fc2(x)); return self.fc3(x)
            net = LeNet(); net.load_state_dict(state, strict=True)
            print(json.dumps(net(torch.from_numpy(np.load(sys.argv[2]))).detach().numpy().astype(float).ravel().tolist()))
            """, dir.File("small.safetensors"), dir.File("x.npy"));
        var torch = System.Text.Json.JsonSerializer.Deserialize<double[]>(got)!;
        var ours = Evaluation.Logits(model, x, 3);
        var scale = 1 + ours.Max(Math.Abs);
        Assert.That(torch, Is.EqualTo(ours.Select(v => (double)v)).Within(1e-4 * scale), "PyTorch's smaller LeNet-5 against the masked model here");
    }

    /// <summary>Zeros the incoming weights of all but <paramref name="keep"/>[i] units of hidden layer i (random units; biases left).</summary>
    private static void RemoveUnits(IModel<float> model, int[] keep, int seed)
    {
        var rng = new Random(seed);
        var weights = model.Parameters.Where(p => p.IsPrunable).ToArray();
        for (var i = 0; i < keep.Length; i++)
        {
            var w = weights[i];
            var rows = w.Shape[0];
            var columns = w.Length / rows;
            var order = Enumerable.Range(0, rows).ToArray();
            rng.Shuffle(order);
            foreach (var u in order.Skip(keep[i]))
                w.Data.AsSpan(u * columns, columns).Clear();
        }
    }

    private static void AssertSameLogits(IModel<float> masked, IModel<float> smaller)
    {
        var per = masked.InputShape.Aggregate(1, (a, b) => a * b);
        var (x, _) = TestData.Random(11, per, 10, seed: 7);
        var expected = Evaluation.Logits(masked, x, 11);
        var actual = Evaluation.Logits(smaller, x, 11);
        var scale = 1 + expected.Max(Math.Abs);
        Assert.That(actual, Is.EqualTo(expected).Within(1e-4 * scale));
    }
}
