using WoodFisher.Kernels;

namespace WoodFisher.Pruning.Tests;

/// <summary><see cref="Damping.Auto"/>: the pruner takes each step once per λ and keeps the grid's best by the sample's criterion.</summary>
public class DampingSearchTests
{
    private const int D = 16;

    /// <summary>
    /// A synthetic quadratic L(w) = ½(w − w*)ᵀH(w − w*) whose curvature is estimated from few noisy rows: the empirical
    /// Fisher of 6 random rows (rank 6 in d = 16) plus half of H's diagonal, then λI. The criterion is the exact loss change under H, so the grid's
    /// best λ is known by pruning once per λ with a fixed damping.
    /// </summary>
    private sealed class QuadraticSample(double[] fisher, double[] h, double[] wStar, IReadOnlyList<double> grid) : CurvatureSample
    {
        public override IReadOnlyList<double> DampingGrid => grid;

        public override string CriterionName => "exact quadratic";

        public override CurvatureEstimate Build() => throw new InvalidOperationException("automatic");

        public override CurvatureEstimate Build(double damping) => new(new DenseCurvature(fisher, D, damping));

        public override CriterionValue Criterion(ReadOnlySpan<double> before, ReadOnlySpan<double> after, ReadOnlySpan<bool> mask) =>
            Oracle.Quadratic(h, after.ToArray(), wStar) - Oracle.Quadratic(h, before.ToArray(), wStar);
    }

    private static (double[] Fisher, double[] H, double[] W) Quadratic(int seed)
    {
        var rng = new Random(seed);
        var h = Oracle.RandomSpd(rng, D, shift: 0.0001);
        var g = Oracle.RandomVector(rng, 6 * D);
        var f = new double[D * D];
        for (var i = 0; i < D; i++)
        {
            // Six random rows plus half of H's diagonal: a poor, mostly low-rank estimate of H.
            f[(i * D) + i] = h[(i * D) + i] / 2;
            for (var j = 0; j < D; j++)
            {
                for (var n = 0; n < 6; n++)
                {
                    f[(i * D) + j] += g[(n * D) + i] * g[(n * D) + j] / 6;
                }
            }
        }

        return (f, h, Oracle.RandomVector(rng, D));
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void Auto_PicksTheGridBest_OnASyntheticQuadratic(int seed)
    {
        var (fisher, h, w) = Quadratic(seed);
        double[] grid = [1e-4, 1e-3, 1e-2, 1e-1, 1, 10];
        var options = new PrunerOptions { Sparsity = 0.5, WholeDampingGrid = true };

        // The answer, one fixed-λ prune per grid point: the loss change under the true H.
        var truth = grid.Select(lambda =>
        {
            var r = new Pruner(options).Prune(w, new DenseCurvature(fisher, D, lambda));
            return Oracle.Quadratic(h, r.Weights, w) - Oracle.Quadratic(h, w, w);
        }).ToArray();
        var best = Array.IndexOf(truth, truth.Min());

        var lines = new List<string>();
        var auto = new Pruner(options).Prune(w, (_, _) => new QuadraticSample(fisher, h, w, grid), progress: new Lines(lines));
        var fixedBest = new Pruner(options).Prune(w, new DenseCurvature(fisher, D, grid[best]));
        var choice = auto.Steps[0].Damping!;
        Assert.Multiple(() =>
        {
            Assert.That(truth.Distinct().Count(), Is.GreaterThan(1), "the grid points differ");
            Assert.That(choice.Chosen, Is.EqualTo(grid[best]));
            Assert.That(choice.Grid, Is.EqualTo(grid));
            Assert.That(choice.Values, Is.EqualTo(truth).Within(1e-9));
            Assert.That(auto.Mask, Is.EqualTo(fixedBest.Mask));
            Assert.That(auto.Weights, Is.EqualTo(fixedBest.Weights).Within(1e-12));
            Assert.That(lines, Has.Count.EqualTo(grid.Length + 1));
            Assert.That(lines[^1], Does.Contain("chose λ = " + grid[best].ToString("g3", System.Globalization.CultureInfo.InvariantCulture)));
            Assert.That(PruningReport.Create(options, auto).DampingSearch, Is.EqualTo(new[] { choice }));
        });

        // The default walk evaluates fewer λ and lands on the same choice here.
        var walked = new Pruner(options with { WholeDampingGrid = false }).Prune(w, (_, _) => new QuadraticSample(fisher, h, w, grid)).Steps[0].Damping!;
        Assert.That(walked.Chosen, Is.EqualTo(choice.Chosen));
        Assert.That(walked.Grid, Has.Count.LessThan(grid.Length));
    }

    [Test]
    public void Recompute_ChoosesOneLambdaForTheWholeRun_TheBestFinalResult()
    {
        // Three cubic steps per λ, each step's sample the same noisy F̂ (statistics at any weights) judged by the exact
        // quadratic of the final weights: the auto run must be the fixed-λ run with the lowest final loss.
        var (fisher, h, w) = Quadratic(4);
        double[] grid = [1e-3, 1e-1, 10];
        var options = new PrunerOptions { Sparsity = 0.75, RecomputeSteps = 3 };
        var runs = grid.Select(lambda => new Pruner(options).Prune(w, (_, _) => new CurvatureEstimate(new DenseCurvature(fisher, D, lambda)))).ToArray();
        var truth = runs.Select(r => Oracle.Quadratic(h, r.Weights, w)).ToArray();
        var best = Array.IndexOf(truth, truth.Min());
        var calls = 0;
        var auto = new Pruner(options).Prune(w, (_, _) =>
        {
            calls++;
            return new QuadraticSample(fisher, h, w, grid);
        });
        var choice = auto.Steps[^1].Damping!;
        Assert.Multiple(() =>
        {
            Assert.That(choice.Chosen, Is.EqualTo(grid[best]));
            Assert.That(choice.Values, Is.EqualTo(truth).Within(1e-9));
            Assert.That(choice.Criterion, Does.EndWith("after all 3 steps"));
            Assert.That(auto.Weights, Is.EqualTo(runs[best].Weights).Within(1e-12));
            Assert.That(auto.Mask, Is.EqualTo(runs[best].Mask));
            Assert.That(calls, Is.EqualTo(1 + (grid.Length * 2)), "the first step's sample is shared by every run");
            Assert.That(auto.Steps.Take(2).All(s => s.Damping is null), Is.True);
        });
    }

    [Test]
    public void HeldOutCriterion_LandsNearTheGridBest_OnAQuadraticSampledByItsRows()
    {
        // Rows gₙ = aₙs + bₙt + εzₙ: the population Fisher H = ssᵀ + ttᵀ + ε²I is nearly rank 2, so OBS with a small λ
        // compensates pruned weights along s and t, and a large λ (magnitude-like) cannot. 300 rows fit F̂, 100 judge δ.
        var rng = new Random(7);
        const int m = 400;
        const double eps = 0.01;
        var st = Oracle.RandomVector(rng, 2 * D);
        var h = new double[D * D];
        for (var i = 0; i < D; i++)
        {
            for (var j = 0; j < D; j++)
            {
                h[(i * D) + j] = (st[i] * st[j]) + (st[D + i] * st[D + j]) + (i == j ? eps * eps : 0);
            }
        }

        var rows = new float[m * D];
        for (var n = 0; n < m; n++)
        {
            var z = Gaussian(rng, D + 2);
            for (var i = 0; i < D; i++)
            {
                rows[(n * D) + i] = (float)((z[0] * st[i]) + (z[1] * st[D + i]) + (eps * z[2 + i]));
            }
        }

        var w = Oracle.RandomVector(rng, D);
        var options = new PrunerOptions { Sparsity = 0.5, WholeDampingGrid = true };
        var wf = new EstimatorSpec { BlockSize = D, Precision = Precision.Float64, Backend = BackendKind.Cpu };
        var grid = Damping.DefaultGrid;
        var truth = grid.Select(lambda =>
        {
            var r = new Pruner(options).Prune(w, new GradientCurvature(new ArrayGradientSource(rows, D), wf with { Damping = lambda }).Factory());
            return Oracle.Quadratic(h, r.Weights, w);
        }).ToArray();
        var auto = new Pruner(options).Prune(w, new GradientCurvature(new ArrayGradientSource(rows, D), wf).Factory());
        var chosen = Oracle.Quadratic(h, auto.Weights, w);
        Assert.Multiple(() =>
        {
            Assert.That(auto.Steps[0].Damping!.Criterion, Does.Contain("held-out quadratic (100 of 400 rows)"));
            Assert.That(auto.Steps[0].Damping!.Values, Has.Count.EqualTo(grid.Count));
            Assert.That(truth.Max(), Is.GreaterThan(3 * truth.Min()), "λ matters on this problem");
            // Judged on 100 held-out rows: the choice's true loss change is within 5% of the grid's best.
            Assert.That(chosen, Is.LessThanOrEqualTo(1.05 * truth.Min()));
        });
    }

    /// <summary>
    /// Tensor mode's held-out search forms each block's Gram once for every λ (<see cref="DampingSweep"/>, strategy auto):
    /// each candidate equals the Dense build of its λ from the fitting rows (bit for bit, as in BuildAtTests), so every λ is
    /// judged exactly as rebuilding it with the Dense strategy judges it, and the same λ is chosen.
    /// </summary>
    [TestCase(Precision.Float32)]
    [TestCase(Precision.Float64)]
    public void HeldOutSearch_WithOneGramPerBlock_JudgesEveryLambdaAsARebuild(Precision precision)
    {
        // 96 fitting rows for blocks of 64: more rows than c (the Dense strategy forms the Gram rather than inverting
        // through the rows), few enough that a rebuild with the automatic strategy takes rank-k updates.
        var rng = new Random(11);
        const int m = 128, c = 64, d = 2 * c;
        var rows = Array.ConvertAll(Oracle.RandomVector(rng, m * d), v => (float)v);
        var w = Oracle.RandomVector(rng, d);
        var options = new PrunerOptions { Sparsity = 0.5, WholeDampingGrid = true };
        var spec = new EstimatorSpec { BlockSize = c, Precision = precision, Backend = BackendKind.Cpu };
        var swept = new Pruner(options).Prune(w, new GradientCurvature(new ArrayGradientSource(rows, d), spec).Factory());
        var rebuilt = new Pruner(options).Prune(w, new GradientCurvature(new ArrayGradientSource(rows, d), spec with { Strategy = WoodburyStrategy.Dense }).Factory());
        Assert.Multiple(() =>
        {
            Assert.That(swept.Steps[0].Damping!.Values, Is.EqualTo(rebuilt.Steps[0].Damping!.Values));
            Assert.That(swept.Steps[0].Damping!.Chosen, Is.EqualTo(rebuilt.Steps[0].Damping!.Chosen));
        });
    }

    [Test]
    public void ModelMode_JudgesEachLambdaByTheLossOnCalibrationSamplesAfterTheFisherSamples()
    {
        // 30 Fisher samples, then 20 calibration samples: each λ's criterion must be the mean loss on samples 30..49 of
        // the model pruned with that λ fixed, and the chosen λ the lowest of them.
        var model = WoodFisher.Models.ModelFactory.Create("mlp:6-5-3", seed: 4);
        var rng = new Random(8);
        var x = Enumerable.Range(0, 60 * 6).Select(_ => (float)((2 * rng.NextDouble()) - 1)).ToArray();
        var y = Enumerable.Range(0, 60).Select(_ => rng.Next(3)).ToArray();
        var selection = WoodFisher.Models.ParameterSelection<float>.Prunable(model);
        var curvature = new ModelCurvature(model, selection, x, y) { CalibrationSamples = 20 };
        var dense = curvature.GetWeights();
        double[] grid = [1e-4, 1e-2, 1];
        var options = new PrunerOptions { Sparsity = 0.6, Segments = selection.Segments };
        var spec = new EstimatorSpec { BlockSize = 8, Samples = 30, Damping = Damping.Search(grid), Precision = Precision.Float64, Backend = BackendKind.Cpu };
        var auto = new Pruner(options).Prune(dense, curvature.Factory(spec));
        var expected = grid.Select(lambda =>
        {
            curvature.SetWeights(dense);
            var r = new Pruner(options).Prune(dense, curvature.Factory(spec with { Damping = lambda }));
            curvature.SetWeights(r.Weights);
            return WoodFisher.Models.Evaluation.Evaluate(model, x.AsSpan(30 * 6, 20 * 6), y.AsSpan(30, 20), 20).Loss;
        }).ToArray();
        var choice = auto.Steps[0].Damping!;
        Assert.Multiple(() =>
        {
            Assert.That(choice.Criterion, Is.EqualTo("calibration loss (20 samples)"));
            Assert.That(choice.Values, Is.EqualTo(expected).Within(1e-6));
            Assert.That(choice.Chosen, Is.EqualTo(grid[Array.IndexOf(expected, expected.Min())]));
        });
    }

    [Test]
    public void Damping_ParsesAutoGridsAndNumbers_AndRejectsTheRest()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Damping.Parse("auto").IsAuto, Is.True);
            Assert.That(Damping.Parse("AUTO").Candidates, Is.EqualTo(Damping.DefaultGrid));
            Assert.That(Damping.Parse("auto:1e-2, 1e-4").Candidates, Is.EqualTo(new[] { 1e-4, 1e-2 }));
            Assert.That(Damping.Parse("1e-5").Value, Is.EqualTo(1e-5));
            Assert.That(((Damping)3e-3).Candidates, Is.EqualTo(new[] { 3e-3 }));
            Assert.That(default(Damping), Is.EqualTo(Damping.Auto));
            Assert.That(Damping.Parse("auto:1e-6,1e-4").ToString(), Is.EqualTo("auto:1e-06,0.0001"));
            Assert.That(() => Damping.Auto.Value, Throws.InvalidOperationException);
            Assert.That(() => Damping.Parse("0"), Throws.TypeOf<FormatException>().With.Message.Contains("positive"));
            Assert.That(() => Damping.Parse("-1e-5"), Throws.TypeOf<FormatException>());
            Assert.That(() => Damping.Parse("NaN"), Throws.TypeOf<FormatException>());
            Assert.That(() => Damping.Parse("auto:"), Throws.TypeOf<FormatException>().With.Message.Contains("empty"));
            Assert.That(() => Damping.Fixed(double.PositiveInfinity), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(EstimatorSpec.Parse("woodfisher:damping=auto").Damping.IsAuto, Is.True);
            Assert.That(EstimatorSpec.Parse("woodfisher:damping=1e-3").Damping.Value, Is.EqualTo(1e-3));
        });
    }

    [Test]
    public void Auto_NeedsEnoughRowsToHoldSomeOut()
    {
        var rows = Oracle.RandomVector(new Random(1), 5 * D).Select(v => (float)v).ToArray();
        var curvature = new GradientCurvature(new ArrayGradientSource(rows, D), new EstimatorSpec());
        Assert.That(() => curvature.Sample(), Throws.ArgumentException.With.Message.Contains("needs at least 8 rows"));
    }

    private static double[] Cholesky(double[] a)
    {
        var l = new double[D * D];
        for (var i = 0; i < D; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                var s = a[(i * D) + j];
                for (var k = 0; k < j; k++)
                {
                    s -= l[(i * D) + k] * l[(j * D) + k];
                }

                l[(i * D) + j] = i == j ? Math.Sqrt(s) : s / l[(j * D) + j];
            }
        }

        return l;
    }

    private static double[] Gaussian(Random rng, int n) =>
        Enumerable.Range(0, n).Select(_ => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble())).ToArray();

    private sealed class Lines(List<string> lines) : IProgress<string>
    {
        public void Report(string value) => lines.Add(value);
    }
}
