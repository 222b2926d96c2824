using WoodFisher.Models.Autograd;
using WoodFisher.Models.Training;

namespace WoodFisher.Models.Tests;

public class ModelTests
{
    [Test]
    public void Mlp_FromSpec_HasPyTorchNamesAndShapes()
    {
        var m = ModelFactory.Create("mlp:784-300-100-10");
        Assert.That(m.Parameters.Select(p => p.Name), Is.EqualTo(new[] { "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias" }));
        Assert.That(m.Parameters[0].Shape, Is.EqualTo(new[] { 300, 784 }));
        Assert.That(m.Parameters.Select(p => p.IsPrunable), Is.EqualTo(new[] { true, false, true, false, true, false }));
        Assert.That(ModelFactory.Create("mlp:10-5:nobias").Parameters.Select(p => p.Name), Is.EqualTo(new[] { "fc1.weight" }));
    }

    [Test]
    public void ResNet20_HasBatchNormNamesAndRuns()
    {
        var m = ModelFactory.Create("resnet20:3x8x8");
        var sd = m.StateDict();
        Assert.That(sd.Keys, Does.Contain("bn1.running_mean").And.Contain("layer2.0.shortcut.0.weight").And.Contain("layer3.2.bn2.running_var").And.Contain("linear.weight"));
        Assert.That(m.Parameters.Count(p => p.IsPrunable), Is.EqualTo(19 + 2 + 1));
        var (x, _) = TestData.Random(2, 3 * 64, 10, 1);
        var z = m.Forward(new Tape<float>(), Tensor<float>.FromFloats([2, 3, 8, 8], x));
        Assert.That(z.Shape, Is.EqualTo(new[] { 2, 10 }));
    }

    [TestCase("mlp:6-5-3")]
    [TestCase("lenet5")]
    [TestCase("cifarnet:1x8x8")]
    [TestCase("resnet20:1x8x8")]
    public void StateDict_RoundTrip_ReproducesLogits(string spec)
    {
        var a = ModelFactory.Create(spec, seed: 1);
        var per = a.InputShape.Aggregate(1, (p, q) => p * q);
        var (x, y) = TestData.Random(4, per, 10 > a.NumClasses ? a.NumClasses : 10, 2);
        if (spec.StartsWith("resnet", StringComparison.Ordinal))
            Trainer.Train(a, x, y, 4, new TrainerOptions { BatchSize = 4 }); // moves the running statistics off their defaults
        var b = ModelFactory.Create(spec, seed: 2);
        b.LoadStateDict(a.StateDict());
        Assert.That(Evaluation.Logits(b, x, 4), Is.EqualTo(Evaluation.Logits(a, x, 4)));
    }

    [Test]
    public void FromStateDict_RecognisesMlp()
    {
        var a = ModelFactory.Create("mlp:7-5-4-3:nobias", seed: 1);
        var b = ModelFactory.FromStateDict(a.StateDict());
        Assert.That(b.Spec, Is.EqualTo("mlp:7-5-4-3:nobias"));
        Assert.That(b.Parameters[1].Data, Is.EqualTo(a.Parameters[1].Data));
        Assert.Throws<NotSupportedException>(() => ModelFactory.FromStateDict(ModelFactory.Create("lenet5").StateDict()));
    }

    [Test]
    public void LoadStateDict_WrongShape_Throws()
    {
        var sd = ModelFactory.Create("mlp:6-5-3").StateDict();
        var m = ModelFactory.Create("mlp:6-4-3");
        Assert.Throws<ArgumentException>(() => m.LoadStateDict(sd));
    }

    [Test]
    public void Tapes_AreIndependent_SameModelInTwoThreads()
    {
        var m = ModelFactory.Create("mlp:20-10-3", seed: 1);
        var (x, y) = TestData.Random(64, 20, 3, 1);
        var sel = ParameterSelection<float>.Prunable(m);
        var reference = LossGradient.Mean(m, x, y, 64, sel);
        var results = new float[8][];
        Parallel.For(0, 8, i => results[i] = LossGradient.Mean(m, x, y, 64, sel));
        foreach (var r in results)
            Assert.That(r, Is.EqualTo(reference));
    }
}
