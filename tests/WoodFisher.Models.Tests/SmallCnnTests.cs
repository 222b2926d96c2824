using WoodFisher.IO;
using WoodFisher.Models.Tests.IO;

namespace WoodFisher.Models.Tests;

/// <summary>
/// <c>cnn:C1-C2[:bn]</c>, the small CNN of the fidelity table, against a model PyTorch made: the same state dict (with
/// BatchNorm running statistics) loads by name, and the loss and functorch's per-sample gradients agree.
/// </summary>
public class SmallCnnTests
{
    [Test]
    public void Spec_IsValidatedWhole_AndCountsItsParameters()
    {
        var model = ModelFactory.Create("cnn:4-6:bn");
        var expected = ((4 * 9) + 4) + (2 * 4) + ((6 * 4 * 9) + 6) + ((6 * 7 * 7 * 10) + 10);
        Assert.Multiple(() =>
        {
            Assert.That(model.Spec, Is.EqualTo("cnn:4-6:bn"));
            Assert.That(ModelFactory.ParameterCount("cnn:4-6:bn"), Is.EqualTo(expected));
            Assert.That(model.Parameters.Sum(p => (long)p.Length), Is.EqualTo(expected));
            Assert.That(() => ModelFactory.Create("cnn:4"), Throws.TypeOf<FormatException>().With.Message.Contains("cnn:C1-C2"));
            Assert.That(() => ModelFactory.Create("cnn:4-6:relu"), Throws.TypeOf<FormatException>().With.Message.Contains("cnn:C1-C2:bn"));
            Assert.That(() => ModelFactory.Create("cnn:0-6"), Throws.TypeOf<FormatException>().With.Message.Contains("positive integer"));
        });
    }

    [Test]
    public void PyTorchModelWithBatchNorm_LossAndPerSampleGradients_MatchFunctorch()
    {
        using var dir = new TempDir();
        TorchCnn.Require("torch, functorch");

        // A cnn:4-6:bn with random weights and running statistics, in eval mode (as woodfisher runs BatchNorm), its
        // safetensors written by hand (header length, JSON header, little-endian bytes), and functorch's gradients.
        var torchLoss = Python.Run(TorchCnn.Script + """
            from functorch import make_functional_with_buffers, vmap, grad
            net = random_net(3)
            net.eval()
            save(net, sys.argv[1])
            x = torch.rand(12, 1, 28, 28); y = torch.randint(0, 10, (12,))
            np.save(sys.argv[2], x.numpy()); np.save(sys.argv[3], y.numpy().astype(np.int32))
            fmodel, params, buffers = make_functional_with_buffers(net)
            names = [n for n, _ in net.named_parameters()]
            def loss(p, b, xi, yi):
                return F.cross_entropy(fmodel(p, b, xi.unsqueeze(0)), yi.unsqueeze(0))
            g = vmap(grad(loss), in_dims=(None, None, 0, 0))(params, buffers, x, y)
            keep = [i for i, n in enumerate(names) if n.endswith('weight') and not n.startswith('bn')]
            G = torch.cat([g[i].reshape(12, -1) for i in keep], 1)
            np.save(sys.argv[4], G.detach().numpy().astype(np.float32))
            print(float(F.cross_entropy(net(x), y)))
            """, dir.File("m.safetensors"), dir.File("x.npy"), dir.File("y.npy"), dir.File("g.npy"));
        var model = ModelFiles.Load(dir.File("m.safetensors"));
        var x = Npy.Read(dir.File("x.npy")).GetData<float>();
        var y = Npy.Read(dir.File("y.npy")).GetData<int>();
        var expected = Npy.Read(dir.File("g.npy")).GetData<float>();
        var selection = ParameterSelection<float>.Prunable(model);
        var ours = PerSampleGradients.Compute(model, x, y, 12, selection);
        var scale = expected.Max(v => Math.Abs(v));
        var diff = ours.Zip(expected, (a, b) => Math.Abs(a - b)).Max();
        Assert.Multiple(() =>
        {
            Assert.That(model.Spec, Is.EqualTo("cnn:4-6:bn"));
            Assert.That(selection.Entries.Select(e => e.Name), Is.EqualTo(new[] { "conv1.weight", "conv2.weight", "fc.weight" }));
            Assert.That(ours, Has.Length.EqualTo(expected.Length));
            Assert.That(Evaluation.Evaluate(model, x, y, 12).Loss, Is.EqualTo(double.Parse(torchLoss, System.Globalization.CultureInfo.InvariantCulture)).Within(1e-5));

            // float32 on both sides through two convolutions, BatchNorm and a 294-wide linear layer: a few ulps of the
            // largest gradient.
            Assert.That(diff, Is.LessThan(1e-5 * scale));
        });
    }
}
