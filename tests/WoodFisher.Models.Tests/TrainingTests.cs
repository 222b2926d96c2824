using WoodFisher.Models.Training;

namespace WoodFisher.Models.Tests;

public class TrainingTests
{
    [Test]
    public void SmallMlp_LearnsSeparableProblem()
    {
        var (x, y) = TestData.Separable(600, 10, 3, 1);
        var m = ModelFactory.Create("mlp:10-32-3", seed: 1);
        var before = Evaluation.Evaluate(m, x, y, 600);
        var reports = new List<TrainingProgress>();
        var hist = Trainer.Train(m, x, y, 600, new TrainerOptions
        {
            Epochs = 20,
            BatchSize = 32,
            Schedule = LearningRateSchedule.Cosine(0.1, 20),
            Momentum = 0.9,
            Nesterov = true,
            Seed = 3,
        }, new SyncProgress<TrainingProgress>(reports.Add));
        var after = Evaluation.Evaluate(m, x, y, 600);
        Assert.That(after.Loss, Is.LessThan(0.25 * before.Loss));
        Assert.That(after.Accuracy, Is.GreaterThan(0.9));
        Assert.That(hist[^1], Is.LessThan(hist[0]));
        Assert.That(reports.Count(r => r.IsEpochEnd), Is.EqualTo(20));
        Assert.That(reports.Count(r => !r.IsEpochEnd), Is.EqualTo(20 * 19));
    }

    [Test]
    public void Masks_HoldPrunedWeightsAtExactlyZero_ThroughTraining()
    {
        var (x, y) = TestData.Separable(200, 10, 3, 2);
        var m = ModelFactory.Create("mlp:10-16-3", seed: 2);
        var masks = new ParameterMasks();
        var rng = new Random(5);
        foreach (var p in m.Parameters.Where(p => p.IsPrunable))
            masks.Set(p.Name, Enumerable.Range(0, p.Length).Select(_ => rng.NextDouble() > 0.7).ToArray());
        Trainer.Train(m, x, y, 200, new TrainerOptions { Epochs = 3, BatchSize = 16, WeightDecay = 1e-3, Masks = masks });
        foreach (var p in m.Parameters.Where(p => p.IsPrunable))
        {
            var keep = masks.Get(p.Name)!;
            for (var i = 0; i < p.Length; i++)
            {
                if (!keep[i])
                    Assert.That(p.Data[i], Is.EqualTo(0f), $"{p.Name}[{i}]");
            }
            Assert.That(p.Data.Where((v, i) => keep[i]).Count(v => v != 0), Is.GreaterThan(0));
        }
        Assert.That(masks.Sparsity(), Is.EqualTo(0.7).Within(0.1));
    }

    [Test]
    public void Sgd_MasksMomentumBuffers()
    {
        var m = ModelFactory.Create("mlp:4-3", seed: 1);
        var (x, y) = TestData.Random(8, 4, 3, 1);
        var masks = new ParameterMasks();
        masks.Set("fc1.weight", [false, true, true, true, true, true, true, true, true, true, true, false]);
        var sgd = new Sgd<float>(m.Parameters, momentum: 0.9);
        for (var s = 0; s < 3; s++)
        {
            var tape = new Autograd.Tape<float>();
            var loss = Autograd.Ops.SoftmaxCrossEntropy(tape, m.Forward(tape, Autograd.Tensor<float>.FromFloats([8, 4], x)), y);
            tape.Backward(loss);
            sgd.Step(tape, 0.1, masks);
        }
        Assert.That(sgd.Velocity(0)[0], Is.EqualTo(0f));
        Assert.That(sgd.Velocity(0)[11], Is.EqualTo(0f));
        Assert.That(sgd.Velocity(0)[1], Is.Not.EqualTo(0f));
    }

    // Gradual pruning trains one epoch per call and changes the mask between calls: the momentum of epoch 1 must reach
    // epoch 2 (a shared optimizer equals a fresh one seeded with epoch 1's velocity, and differs from a fresh zero one),
    // while weights and velocity masked after epoch 1 stay exactly zero.
    [Test]
    public void Trainer_SharedSgd_CarriesMomentumAcrossEpochs_AndHoldsNewMasksAtZero()
    {
        var (x, y) = TestData.Separable(200, 10, 3, 4);
        var m = ModelFactory.Create("mlp:10-16-3", seed: 4);
        var sgd = new Sgd<float>(m.Parameters, momentum: 0.9);
        var options = new TrainerOptions { Epochs = 1, BatchSize = 16, Schedule = LearningRateSchedule.Constant(0.05) };
        Trainer.Train(m, sgd, x, y, 200, options with { Seed = 1 });
        var afterEpoch1 = m.Parameters.Select(p => (float[])p.Data.Clone()).ToArray();

        var masks = new ParameterMasks();
        var rng = new Random(6);
        foreach (var p in m.Parameters.Where(p => p.IsPrunable))
            masks.Set(p.Name, Enumerable.Range(0, p.Length).Select(_ => rng.NextDouble() > 0.5).ToArray());
        var carried = Enumerable.Range(0, m.Parameters.Count).Select(i => (float[])sgd.Velocity(i).Clone()).ToArray();
        Assert.That(carried.Sum(v => v.Count(e => e != 0)), Is.GreaterThan(0));

        float[][] RunEpoch2(Sgd<float>? shared, float[][]? velocity)
        {
            var copy = ModelFactory.Create("mlp:10-16-3", seed: 4);
            for (var i = 0; i < copy.Parameters.Count; i++)
                afterEpoch1[i].CopyTo(copy.Parameters[i].Data, 0);
            var opt = shared ?? new Sgd<float>(copy.Parameters, momentum: 0.9);
            if (shared is null && velocity is not null)
            {
                for (var i = 0; i < velocity.Length; i++)
                    velocity[i].CopyTo(opt.Velocity(i), 0);
            }
            Trainer.Train(shared is null ? copy : m, opt, x, y, 200, options with { Seed = 2, Masks = masks });
            return (shared is null ? copy : m).Parameters.Select(p => (float[])p.Data.Clone()).ToArray();
        }

        var reference = RunEpoch2(null, carried);
        var reset = RunEpoch2(null, null);
        var shared = RunEpoch2(sgd, null);
        for (var i = 0; i < shared.Length; i++)
            Assert.That(shared[i], Is.EqualTo(reference[i]), m.Parameters[i].Name);
        Assert.That(shared.Zip(reset).Any(t => !t.First.SequenceEqual(t.Second)), Is.True, "momentum was reset");

        foreach (var (p, i) in m.Parameters.Select((p, i) => (p, i)).Where(t => t.p.IsPrunable))
        {
            var keep = masks.Get(p.Name)!;
            for (var j = 0; j < p.Length; j++)
            {
                if (keep[j])
                    continue;
                Assert.That(p.Data[j], Is.EqualTo(0f), $"{p.Name}[{j}]");
                Assert.That(sgd.Velocity(i)[j], Is.EqualTo(0f), $"velocity {p.Name}[{j}]");
            }
        }
    }

    [Test]
    public void Schedules_FollowTheirFormulas()
    {
        Assert.That(LearningRateSchedule.Step(0.1, 10, 0.1).At(25), Is.EqualTo(0.001).Within(1e-15));
        Assert.That(LearningRateSchedule.Cosine(0.1, 10).At(5), Is.EqualTo(0.05).Within(1e-15));
        Assert.That(LearningRateSchedule.Cosine(0.1, 10, 0.01).At(10), Is.EqualTo(0.01).Within(1e-15));
    }

    private sealed class SyncProgress<T>(Action<T> action) : IProgress<T>
    {
        public void Report(T value) => action(value);
    }

    // A rate that overflows the weights within a few steps: the trainer stops at the first non-finite batch loss and
    // names that epoch and step, instead of finishing with NaN weights.
    [Test]
    public void DivergingRun_StopsWithTheEpochAndStep()
    {
        var (x, y) = TestData.Separable(200, 10, 3, 4);
        var m = ModelFactory.Create("mlp:10-16-3", seed: 4);
        var ex = Assert.Throws<TrainingDivergedException>(() =>
            Trainer.Train(m, x, y, 200, new TrainerOptions { Epochs = 3, BatchSize = 20, Schedule = LearningRateSchedule.Constant(1e30) }));
        Assert.That(ex!.Epoch, Is.EqualTo(1));
        Assert.That(ex.Step, Is.InRange(1, 10));
        Assert.That(ex.Message, Does.Contain($"epoch 1, step {ex.Step} of 10"));
    }

    [Test]
    public void NonFiniteOrOutOfRangeSettings_AreRefusedBeforeTraining()
    {
        var (x, y) = TestData.Separable(40, 10, 3, 5);
        var m = ModelFactory.Create("mlp:10-4-3", seed: 5);
        var w = m.Parameters[0].Data.ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(() => LearningRateSchedule.Constant(double.PositiveInfinity), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => LearningRateSchedule.Cosine(double.NaN, 3), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => LearningRateSchedule.Step(0.1, 0, 0.1), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => Trainer.Train(m, x, y, 40, new TrainerOptions { WeightDecay = double.NaN }), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => Trainer.Train(m, x, y, 40, new TrainerOptions { Momentum = 1 }), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => Trainer.Train(m, x, y, 40, new TrainerOptions { Epochs = 0 }), Throws.TypeOf<ArgumentOutOfRangeException>());
        });
        Assert.That(m.Parameters[0].Data, Is.EqualTo(w), "nothing was trained");
    }
}
