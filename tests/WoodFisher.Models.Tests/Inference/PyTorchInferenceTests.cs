using WoodFisher.IO;
using WoodFisher.Kernels.Sparse;
using WoodFisher.Models.Inference;
using WoodFisher.Models.Tests.IO;

namespace WoodFisher.Models.Tests.Inference;

/// <summary>
/// The inference engine on a model PyTorch wrote: a cnn:4-6:bn with BatchNorm running statistics, a dead ReLU unit (a
/// BatchNorm shift that keeps one channel below zero) and 70% of its convolution and Linear weights zeroed, against
/// PyTorch's own logits in eval mode, dense and sparse, one sample at a time and in batches split over the cores.
/// Tolerance as in <see cref="InferenceModelTests"/>: |Δ| ≤ 1e-4·(1 + max|z|), float32 on both sides in other orders.
/// </summary>
public sealed class PyTorchInferenceTests
{
    [Test]
    public void PyTorchCnnWithBatchNormAndADeadUnit_EngineLogits_EqualPyTorchs()
    {
        using var dir = new TempDir();
        TorchCnn.Require("torch");

        const int count = 70;
        var (model, x, expected) = FromPyTorch(dir, """
            net, arch = random_net(5), 'cnn:4-6:bn'
            with torch.no_grad():
                net.bn1.bias[2] = -100.0
                for m in (net.conv1, net.conv2, net.fc):
                    m.weight.mul_((torch.rand_like(m.weight) > 0.7).float())
            """, "1, 28, 28", count);
        var per = 28 * 28;
        foreach (var engine in Enum.GetValues<InferenceEngine>())
        {
            using var engineModel = InferenceModel.Create(model, engine, maxBatch: 64);
            InferenceModelTests.AssertClose(engineModel.Logits(x, count), expected, $"{engine}, {count} samples in batches of 64 and 6", "PyTorch");
            for (var i = 0; i < 3; i++)
                InferenceModelTests.AssertClose(engineModel.Logits(x.AsSpan(i * per, per), 1), expected.AsSpan(i * 10, 10).ToArray(), $"{engine}, sample {i} alone", "PyTorch");
            if (CoreSplit.Cores >= 2)
                Assert.That(engineModel.Parts(64), Is.GreaterThanOrEqualTo(2), "a batch of 64 is split by samples");
            if (engine == InferenceEngine.Sparse)
                Assert.That(engineModel.Weights.Any(w => w.Format != "dense"), "the zeroed weights run sparse");
        }
    }

    /// <summary>
    /// A 784-64-32-10 MLP written by PyTorch with 80% of its weights zeroed and whole units left with zero incoming weights
    /// (some with a positive bias, whose constant output the sparse engine folds into the next layer's bias, some with a
    /// negative one, dead behind the ReLU): the sparse engine runs smaller matrices and gives PyTorch's logits.
    /// </summary>
    [Test]
    public void PyTorchMlpWithZeroUnits_SparseEngineFoldsThem_AndGivesPyTorchsLogits()
    {
        using var dir = new TempDir();
        TorchCnn.Require("torch");
        const int count = 20;
        var (model, x, expected) = FromPyTorch(dir, """
            torch.manual_seed(7)
            class Mlp(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc1 = nn.Linear(784, 64); self.fc2 = nn.Linear(64, 32); self.fc3 = nn.Linear(32, 10)
                def forward(self, x):
                    return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x.flatten(1))))))
            net = Mlp()
            with torch.no_grad():
                for m in (net.fc1, net.fc2, net.fc3):
                    m.weight.mul_((torch.rand_like(m.weight) > 0.8).float())
                for u in (1, 5, 9, 20, 33, 60):
                    net.fc1.weight[u] = 0; net.fc1.bias[u] = 0.3 if u % 2 else -0.3
                for u in (0, 17):
                    net.fc2.weight[u] = 0; net.fc2.bias[u] = 0.2
            arch = 'mlp:784-64-32-10'
            """, "784", count);
        using var engine = InferenceModel.Create(model, InferenceEngine.Sparse, maxBatch: 8);
        Assert.That(engine.Weights.Select(w => (w.Rows, w.Columns)), Is.EqualTo(new[] { (58, 784), (30, 58), (10, 30) }), "six fc1 units and two fc2 units removed");
        InferenceModelTests.AssertClose(engine.Logits(x, count), expected, $"{count} samples in batches of 8", "PyTorch");
        for (var i = 0; i < 3; i++)
            InferenceModelTests.AssertClose(engine.Logits(x.AsSpan(i * 784, 784), 1), expected.AsSpan(i * 10, 10).ToArray(), $"sample {i} alone", "PyTorch");
    }

    /// <summary>
    /// Runs <paramref name="build"/> (Python after <see cref="TorchCnn.Script"/> that leaves a network in <c>net</c> and its
    /// woodfisher spec in <c>arch</c>), saves the network and its eval-mode logits on <paramref name="count"/> random inputs
    /// of <paramref name="shape"/>; returns the model as loaded, the inputs and PyTorch's logits.
    /// </summary>
    private static (IModel<float> Model, float[] X, float[] Logits) FromPyTorch(TempDir dir, string build, string shape, int count)
    {
        Python.Run(TorchCnn.Script + build + "\n" + $$"""
            net.eval()
            save(net, sys.argv[1], arch)
            x = torch.rand(int(sys.argv[4]), {{shape}})
            with torch.no_grad():
                z = net(x)
            np.save(sys.argv[2], x.numpy()); np.save(sys.argv[3], z.numpy())
            """, dir.File("m.safetensors"), dir.File("x.npy"), dir.File("z.npy"), count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return (ModelFiles.Load(dir.File("m.safetensors")), Npy.Read(dir.File("x.npy")).GetData<float>(), Npy.Read(dir.File("z.npy")).GetData<float>());
    }
}
