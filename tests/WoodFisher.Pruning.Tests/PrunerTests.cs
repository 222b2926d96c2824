using WoodFisher.Kernels;

namespace WoodFisher.Pruning.Tests;

public class PrunerTests
{
    private const double Tol = 1e-9;

    [Test]
    public void Magnitude_RunsWithoutFactory_AndPrunesSmallestGlobally()
    {
        double[] w = [0.1, -3, 0.2, 4, -0.05, 1];
        var result = new Pruner(new PrunerOptions { Method = PruningMethod.Magnitude, Sparsity = 0.5, Segments = [3, 3] }).Prune(w, (CurvatureFactory?)null);
        Assert.Multiple(() =>
        {
            Assert.That(result.Weights, Is.EqualTo(new[] { 0, -3, 0, 4, 0, 1.0 }));
            Assert.That(result.Mask, Is.EqualTo(new[] { false, true, false, true, false, true }));
            Assert.That(result.SegmentSparsity, Is.EqualTo(new[] { 2.0 / 3, 1.0 / 3 }));
            Assert.That(result.Sparsity, Is.EqualTo(0.5));
            Assert.That(result.Steps, Has.Count.EqualTo(1));
        });
    }

    [Test]
    public void TensorMode_JointObs_EqualsKktSolution_ForSelectedSet()
    {
        const int n = 12;
        var h = Oracle.RandomSpd(new Random(5), n);
        var inv = new DenseCurvature(h, n, 0.0);
        var w = Oracle.RandomVector(new Random(6), n);
        var result = new Pruner(new PrunerOptions { Sparsity = 0.5 }).Prune(w, inv);
        var q = Enumerable.Range(0, n).Where(i => !result.Mask[i]).ToArray();
        var kkt = Oracle.ConstrainedStep(h, n, new double[n], w, q);
        var expectedScores = ObsScore.Compute(w, inv);
        var threshold = q.Max(i => expectedScores[i]);
        Assert.Multiple(() =>
        {
            Assert.That(q, Has.Length.EqualTo(6));
            Assert.That(Enumerable.Range(0, n).Where(i => result.Mask[i]).All(i => expectedScores[i] >= threshold), Is.True);
            for (var i = 0; i < n; i++)
            {
                Assert.That(result.Weights[i], Is.EqualTo(w[i] + kkt[i]).Within(Tol));
            }
        });
    }

    [Test]
    public void Recompute_KeepsEarlierPrunedAtZero_AndReachesTarget()
    {
        const int n = 20;
        var layout = BlockLayout.Create(n, 5, [12, 8]);
        var h = Oracle.RandomSpd(new Random(7), n);
        var w = Oracle.RandomVector(new Random(8), n);
        var calls = new List<double[]>();
        CurvatureFactory factory = (current, _) =>
        {
            calls.Add(current);
            return new CurvatureEstimate(new DenseCurvature(h, n, 0.1, layout: layout));
        };
        var options = new PrunerOptions { Sparsity = 0.75, RecomputeSteps = 4, Segments = [12, 8] };
        var result = new Pruner(options).Prune(w, factory);
        Assert.Multiple(() =>
        {
            Assert.That(calls, Has.Count.EqualTo(4));
            Assert.That(result.Steps.Select(s => s.TargetSparsity), Is.EqualTo(new[] { 0.75 * (1 - Math.Pow(0.75, 3)), 0.75 * (1 - Math.Pow(0.5, 3)), 0.75 * (1 - Math.Pow(0.25, 3)), 0.75 }).Within(1e-15));
            Assert.That(result.Mask.Count(m => !m), Is.EqualTo(15));
            for (var k = 1; k < calls.Count; k++)
            {
                // every weight pruned before step k is exactly zero in the weights handed to step k's estimator
                var prunedBefore = Enumerable.Range(0, n).Where(i => calls[k][i] == 0).ToArray();
                Assert.That(prunedBefore, Has.Length.EqualTo((int)Math.Round(result.Steps[k - 1].TargetSparsity * n, MidpointRounding.AwayFromZero)));
            }

            for (var i = 0; i < n; i++)
            {
                Assert.That(result.Weights[i] == 0, Is.EqualTo(!result.Mask[i]));
            }
        });
        var report = PruningReport.Create(options, result, ["fc1.weight", "fc2.weight"]) with
        {
            Settings = new PruningSettings
            {
                Damping = 1e-5,
                BlockSize = 64,
                FisherSamples = 1000,
                FisherMiniBatch = 4,
                GradientStep = 0.5,
                Precision = WoodFisher.Kernels.Precision.Float64,
                Backend = WoodFisher.Kernels.BackendKind.Cpu,
                Seed = 7,
            },
        };
        var back = PruningReport.FromJson(report.ToJson());
        Assert.Multiple(() =>
        {
            Assert.That(back.Layers, Is.EqualTo(report.Layers));
            Assert.That(back.AchievedSparsity, Is.EqualTo(0.75));
            Assert.That(back.Seconds, Is.EqualTo(report.Seconds));
            Assert.That(back.Method, Is.EqualTo("woodfisher"));
            Assert.That(back.Settings, Is.EqualTo(report.Settings));
            Assert.That(report.ToJson(), Does.Contain("\"Joint\""));
            Assert.That(report.ToJson(), Does.Contain("\"Float64\""));
            Assert.That(PruningReport.Create(options, result).Settings!.GradientStep, Is.EqualTo(options.GradientStep));
        });
    }

    [Test]
    public void InputMask_PrunedWeightsStayPruned()
    {
        const int n = 8;
        var inv = new DenseCurvature(Oracle.RandomSpd(new Random(9), n), n, 0.0);
        double[] w = [5, 5, 5, 5, 5, 5, 5, 5];
        bool[] mask = [true, false, true, true, true, true, true, true];
        var result = new Pruner(new PrunerOptions { Sparsity = 0.25 }).Prune(w, inv, mask: mask);
        Assert.Multiple(() =>
        {
            Assert.That(result.Mask[1], Is.False);
            Assert.That(result.Weights[1], Is.Zero);
            Assert.That(result.Mask.Count(m => !m), Is.EqualTo(2));
        });
    }

    [Test]
    public void WoodTaylor_NeedsGradient_AndUsesIt()
    {
        const int n = 6;
        var h = Oracle.RandomSpd(new Random(10), n);
        var inv = new DenseCurvature(h, n, 0.0);
        var w = Oracle.RandomVector(new Random(11), n);
        var g = Oracle.RandomVector(new Random(12), n);
        var pruner = new Pruner(new PrunerOptions { Method = PruningMethod.WoodTaylor, Sparsity = 0.5 });
        Assert.That(() => pruner.Prune(w, inv), Throws.InvalidOperationException.With.Message.Contains("gradient"));
        var result = pruner.Prune(w, inv, g);
        var q = Enumerable.Range(0, n).Where(i => !result.Mask[i]).ToArray();
        var kkt = Oracle.ConstrainedStep(h, n, g, w, q);
        for (var i = 0; i < n; i++)
        {
            Assert.That(result.Weights[i], Is.EqualTo(w[i] + kkt[i]).Within(Tol));
        }
    }

    [Test]
    public void WoodTaylorGradientStep_IsWoodTaylorWithScaledGradient_AndZeroIsObs()
    {
        const int n = 8;
        var h = Oracle.RandomSpd(new Random(20), n);
        var inv = new DenseCurvature(h, n, 0.0);
        var w = Oracle.RandomVector(new Random(21), n);
        var g = Oracle.RandomVector(new Random(22), n);
        var scaled = new Pruner(new PrunerOptions { Method = PruningMethod.WoodTaylor, Sparsity = 0.5, GradientStep = 0.25 }).Prune(w, inv, g);
        var reference = new Pruner(new PrunerOptions { Method = PruningMethod.WoodTaylor, Sparsity = 0.5 }).Prune(w, inv, g.Select(v => 0.25 * v).ToArray());
        var none = new Pruner(new PrunerOptions { Method = PruningMethod.WoodTaylor, Sparsity = 0.5, GradientStep = 0 }).Prune(w, inv, g);
        var obs = new Pruner(new PrunerOptions { Method = PruningMethod.WoodFisher, Sparsity = 0.5 }).Prune(w, inv);
        Assert.Multiple(() =>
        {
            Assert.That(scaled.Mask, Is.EqualTo(reference.Mask));
            Assert.That(scaled.Weights, Is.EqualTo(reference.Weights).Within(Tol));
            Assert.That(none.Mask, Is.EqualTo(obs.Mask));
            Assert.That(none.Weights, Is.EqualTo(obs.Weights).Within(Tol));
            Assert.That(() => new Pruner(new PrunerOptions { GradientStep = -1 }), Throws.TypeOf<ArgumentOutOfRangeException>());
        });
    }

    [Test]
    public void BadInputs_ThrowClearErrors()
    {
        var inv = new IdentityCurvature(4);
        double[] w = [1, 2, 3, 4];
        Assert.Multiple(() =>
        {
            Assert.That(() => new Pruner(new PrunerOptions { Sparsity = 1.0 }), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => new Pruner(new PrunerOptions { Sparsity = -0.5 }), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => new Pruner(new PrunerOptions { Segments = [2, 3] }).Prune(w, inv), Throws.ArgumentException.With.Message.Contains("sum to 5"));
            Assert.That(() => new Pruner(new PrunerOptions { Method = PruningMethod.WoodTaylor }).Prune(w, inv, [1.0, 2]), Throws.ArgumentException);
            Assert.That(() => new Pruner(new PrunerOptions()).Prune(w, new IdentityCurvature(3)), Throws.ArgumentException.With.Message.Contains("dimension 3"));
            Assert.That(() => new Pruner(new PrunerOptions()).Prune(w, (CurvatureFactory?)null), Throws.InvalidOperationException);
            Assert.That(() => new Pruner(new PrunerOptions()).Prune(w, inv, mask: new bool[3]), Throws.ArgumentException);
            Assert.That(PruningMethod.Find("WoodTaylor"), Is.SameAs(PruningMethod.WoodTaylor));
            Assert.That(PruningMethod.Find("obd"), Is.SameAs(PruningMethod.DiagonalFisher), "an alias");
            Assert.That(() => PruningMethod.Find("woodfsher"), Throws.TypeOf<FormatException>().With.Message.Contains("did you mean woodfisher"));
        });
    }

    private sealed class FakeHost(double[] weights, double[] h) : IGradualPruningHost
    {
        public List<string> Log { get; } = [];

        public bool[]? Mask { get; private set; }

        public double[] GetWeights() => (double[])weights.Clone();

        public void SetWeights(double[] w) => weights = (double[])w.Clone();

        public void SetMask(bool[] mask) => Mask = mask;

        public void FineTune(int epochs)
        {
            Log.Add($"train {epochs}");
            // "training" nudges kept weights; masked ones are held at zero by the optimizer hook
            for (var i = 0; i < weights.Length; i++)
            {
                weights[i] = Mask is null || Mask[i] ? weights[i] * 1.01 : 0;
            }
        }

        public CurvatureSample ComputeCurvature(double[] w, bool[] mask)
        {
            Log.Add("curvature");
            return new CurvatureEstimate(new DenseCurvature(h, w.Length, 0.1));
        }
    }

    [Test]
    public void GradualPruner_FollowsScheduleWithFineTuningBetweenSteps()
    {
        const int n = 10;
        var host = new FakeHost(Oracle.RandomVector(new Random(13), n), Oracle.RandomSpd(new Random(14), n));
        var schedule = new PolynomialSchedule(0.1, 0.6, start: 1, end: 5, frequency: 2);
        var steps = new GradualPruner(schedule, new PrunerOptions(), totalEpochs: 8) { RecomputeSteps = 1 }.Run(host);
        Assert.Multiple(() =>
        {
            Assert.That(host.Log, Is.EqualTo(new[] { "train 1", "curvature", "train 2", "curvature", "train 2", "curvature", "train 3" }));
            Assert.That(steps.Select(s => s.Epoch), Is.EqualTo(new[] { 1, 3, 5 }));
            Assert.That(steps[^1].Result.Mask.Count(m => !m), Is.EqualTo(6));
            Assert.That(steps[1].Result.Mask.Count(m => !m), Is.EqualTo((int)Math.Round(schedule.SparsityAt(3) * n, MidpointRounding.AwayFromZero)));
            for (var k = 1; k < steps.Count; k++)
            {
                for (var i = 0; i < n; i++)
                {
                    Assert.That(!steps[k - 1].Result.Mask[i] && steps[k].Result.Mask[i], Is.False, "a pruned weight came back");
                }
            }

            Assert.That(host.GetWeights().Count(x => x == 0), Is.EqualTo(6));
        });
    }

    [Test]
    public void GradualPruner_TakesEachStepInRecomputeSteps_AsTheOneShotPrunerDoes()
    {
        // Oracle: the one-shot pruner with K recompute steps from the same weights and curvature.
        const int n = 12;
        var w0 = Oracle.RandomVector(new Random(15), n);
        var h = Oracle.RandomSpd(new Random(16), n);
        var host = new FakeHost((double[])w0.Clone(), h);
        var schedule = new PolynomialSchedule(0.25, 0.5, start: 0, end: 1, frequency: 1);
        var steps = new GradualPruner(schedule, new PrunerOptions(), totalEpochs: 2).Run(host);
        var reference = new Pruner(new PrunerOptions { Sparsity = 0.25, RecomputeSteps = 4 })
            .Prune(w0, (_, _) => new CurvatureEstimate(new DenseCurvature(h, n, 0.1)));
        string[] four = ["curvature", "curvature", "curvature", "curvature"];
        Assert.Multiple(() =>
        {
            Assert.That(GradualPruner.DefaultRecomputeSteps, Is.EqualTo(4));
            Assert.That(host.Log, Is.EqualTo(four.Append("train 1").Concat(four).Append("train 1")));
            Assert.That(steps[0].Result.Steps, Has.Count.EqualTo(4));
            Assert.That(steps[0].Result.Mask, Is.EqualTo(reference.Mask));
            Assert.That(steps[0].Result.Weights, Is.EqualTo(reference.Weights).Within(Tol));
            Assert.That(steps[1].Result.Mask.Count(m => !m), Is.EqualTo(6));
            Assert.That(() => new GradualPruner(schedule, new PrunerOptions(), 2) { RecomputeSteps = 0 }, Throws.TypeOf<ArgumentOutOfRangeException>());
        });
    }
}
