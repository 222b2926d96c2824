using System.Globalization;
using WoodFisher.Cli.Infrastructure;
using WoodFisher.IO;
using WoodFisher.Kernels;
using WoodFisher.Models;
using WoodFisher.Pruning;
using static WoodFisher.Cli.Tests.PruneTestSupport;

namespace WoodFisher.Cli.Tests;

/// <summary><c>woodfisher prune</c> in tensor and model mode; in-process, so not parallel (Console is process-wide).</summary>
[NonParallelizable]
public class PruneCommandTests : CliFixture
{
    private const int D = 60;
    private const int M = 40;
    private (double[] W, float[] G) WriteInputs(int d = D, int m = M, int seed = 7)
    {
        var rng = new Random(seed);
        var w = Enumerable.Range(0, d).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var g = Enumerable.Range(0, m * d).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        Npy.Write(P("w.npy"), w, d);
        Npy.Write(P("g.npy"), g, m, d);
        return (w, g);
    }

    /// <summary>A tensor-mode command line; magnitude gets none of the gradient and estimator options (it reads none).</summary>
    private string[] Tensor(string method, string update, double sparsity, params string[] extra) =>
    [
        "prune", "--weights", P("w.npy"), "--method", method,
        .. method == "magnitude" ? Array.Empty<string>() : ["--grads", P("g.npy"), "--update", update, "--damping", "1e-3"],
        .. method.StartsWith("wood", StringComparison.Ordinal) ? ["--block", "10"] : Array.Empty<string>(),
        "--sparsity", sparsity.ToString(CultureInfo.InvariantCulture),
        "--out", P("w2.npy"), "--mask", P("mask.npy"), "--scores", P("scores.npy"), .. extra,
    ];

    [TestCase("woodfisher", "joint")]
    [TestCase("woodfisher", "independent")]
    [TestCase("woodtaylor", "joint")]
    [TestCase("woodtaylor", "joint", 0.1)]
    [TestCase("diagfisher", "joint")]
    [TestCase("magnitude", "none")]
    public void TensorMode_MatchesLibraryPruner_AndPrunesExactlyTheRequestedCount(string method, string update, double taylorStep = 1)
    {
        var (w, _) = WriteInputs();
        string[] taylor = method == "woodtaylor" ? ["--taylor-step", taylorStep.ToString(CultureInfo.InvariantCulture)] : [];
        var (code, _, stderr) = CliFixture.Run(Tensor(method, update, 0.5, ["--segments", "20,40", .. taylor]));
        Assert.That(code, Is.Zero, stderr);

        var w2 = Npy.Read(P("w2.npy"));
        var mask = Npy.Read(P("mask.npy"));
        Assert.That(w2.DType, Is.EqualTo(DType.Float64), "the output keeps the input dtype");
        Assert.That(mask.DType, Is.EqualTo(DType.Bool));
        Assert.That(mask.Shape, Is.EqualTo(new long[] { D }));
        var kept = mask.GetData<bool>();
        var pruned = w2.GetData<double>();
        Assert.That(kept.Count(k => !k), Is.EqualTo(MaskSelection.TargetCount(0.5, D)));
        for (var i = 0; i < D; i++)
        {
            if (!kept[i])
                Assert.That(pruned[i], Is.EqualTo(0.0), $"pruned weight {i} is exactly zero");
        }

        // The library on the same inputs: same mask, same weights (the CLI adds nothing but I/O).
        var kind = PruningMethod.Find(method);
        using var source = new NpyGradientSource(P("g.npy"), [20, 40]);
        IInverseCurvature inverse = kind == PruningMethod.Magnitude ? new IdentityCurvature(D)
            : kind == PruningMethod.DiagonalFisher ? DiagonalFisherCurvature.FromGradients(source, 1e-3)
            : WoodFisherCurvature.FromGradients(source, new WoodFisherOptions { BlockSize = 10, Damping = 1e-3, Segments = [20, 40] });
        var gradient = kind == PruningMethod.WoodTaylor ? GradientStatistics.Compute(source).Mean : null;
        var options = new PrunerOptions { Method = kind, Update = Enum.Parse<UpdateMode>(update, true), Sparsity = 0.5, Segments = [20, 40], GradientStep = taylorStep };
        var expected = new Pruner(options).Prune(w, inverse, gradient);
        (inverse as IDisposable)?.Dispose();
        Assert.That(kept, Is.EqualTo(expected.Mask));
        Assert.That(pruned, Is.EqualTo(expected.Weights).Within(1e-12));
        Assert.That(Npy.Read(P("scores.npy")).GetData<double>(), Is.EqualTo(expected.Scores).Within(1e-12));
    }

    [Test]
    public void TensorMode_Recompute_RebuildsFromTheSurvivors_AsTheLibraryDoes()
    {
        // The library's tensor-mode recompute is checked against a dense survivors'-Fisher oracle (SurvivorFisherTests);
        // the CLI must give exactly its result, not one inverse reused for every step.
        var (w, _) = WriteInputs();
        var (code, _, stderr) = CliFixture.Run(Tensor("woodfisher", "joint", 0.8, "--recompute", "3", "--report", P("r.json")));
        Assert.That(code, Is.Zero, stderr);
        using var source = new NpyGradientSource(P("g.npy"));
        var options = new PrunerOptions { Sparsity = 0.8, RecomputeSteps = 3 };
        var expected = TensorPruning.Prune(w, source, options, new EstimatorSpec { BlockSize = 10, Damping = 1e-3 });
        var reused = new Pruner(options).Prune(w, WoodFisherCurvature.FromGradients(new NpyGradientSource(P("g.npy")), new WoodFisherOptions { BlockSize = 10, Damping = 1e-3 }));
        var report = PruningReport.FromJson(File.ReadAllText(P("r.json")));
        Assert.Multiple(() =>
        {
            Assert.That(Npy.Read(P("mask.npy")).GetData<bool>(), Is.EqualTo(expected.Mask));
            Assert.That(Npy.Read(P("w2.npy")).GetData<double>(), Is.EqualTo(expected.Weights).Within(1e-12));
            Assert.That(Npy.Read(P("w2.npy")).GetData<double>(), Is.Not.EqualTo(reused.Weights).Within(1e-6), "not one inverse for every step");
            Assert.That(report.RecomputeSteps, Is.EqualTo(3));
        });
    }

    [Test]
    public void TensorMode_DefaultDamping_IsChosenFromTheGrid_AndReported()
    {
        WriteInputs();
        var args = Tensor("woodfisher", "joint", 0.5, "--report", P("r.json")).ToList();
        args.RemoveRange(args.IndexOf("--damping"), 2);
        var (code, stdout, stderr) = CliFixture.Run([.. args]);
        Assert.That(code, Is.Zero, stderr);
        var report = PruningReport.FromJson(File.ReadAllText(P("r.json")));
        Assert.Multiple(() =>
        {
            Assert.That(report.DampingSearch, Has.Count.EqualTo(1));
            Assert.That(report.DampingSearch![0].Grid, Is.SubsetOf(Damping.DefaultGrid).And.Ordered, "the λ the walk tried");
            Assert.That(report.DampingSearch[0].Grid, Does.Contain(1e-4).And.Contain(0.1), "the walk starts at the middle and tries the largest");
            Assert.That(report.DampingSearch[0].Criterion, Does.StartWith("held-out quadratic (10 of 40 rows)"));
            Assert.That(Damping.DefaultGrid, Does.Contain(report.DampingSearch[0].Chosen));
            Assert.That(stderr, Does.Contain("chose λ ="), "the search is shown as it runs");
            Assert.That(stdout, Does.Contain("damping=\"auto: "));
        });
    }

    [Test]
    public void TensorMode_OutputsLoadInNumPy()
    {
        WriteInputs();
        var (code, _, stderr) = CliFixture.Run(Tensor("woodfisher", "joint", 0.75));
        Assert.That(code, Is.Zero, stderr);
        var output = Python(
            "import numpy as np\n" +
            $"w = np.load(r'{P("w2.npy")}'); m = np.load(r'{P("mask.npy")}'); s = np.load(r'{P("scores.npy")}')\n" +
            "print(w.dtype, w.shape, m.dtype, m.shape, s.shape, int((~m).sum()), bool((w[~m] == 0).all()))");
        Assert.That(output, Is.EqualTo($"float64 ({D},) bool ({D},) ({D},) {MaskSelection.TargetCount(0.75, D)} True"));
    }

    [Test]
    public void TensorMode_Float32Weights_StayFloat32()
    {
        var rng = new Random(3);
        Npy.Write(P("w.npy"), Enumerable.Range(0, D).Select(_ => (float)rng.NextDouble()).ToArray(), D);
        Npy.Write(P("g.npy"), Enumerable.Range(0, M * D).Select(_ => (float)rng.NextDouble()).ToArray(), M, D);
        var (code, _, stderr) = CliFixture.Run(Tensor("woodfisher", "joint", 0.3, "--precision", "float64"));
        Assert.That(code, Is.Zero, stderr);
        Assert.That(Npy.Read(P("w2.npy")).DType, Is.EqualTo(DType.Float32));
    }

    private static IEnumerable<TestCaseData> BadTensorInputs()
    {
        yield return new TestCaseData(new[] { "--sparsity", "1" }, "sparsity").SetName("TensorMode_SparsityOne_FailsWithoutOutputs");
        yield return new TestCaseData(new[] { "--sparsity", "-0.1" }, "sparsity").SetName("TensorMode_NegativeSparsity_FailsWithoutOutputs");
        yield return new TestCaseData(new[] { "--damping", "0" }, "damping").SetName("TensorMode_ZeroDamping_FailsWithoutOutputs");
        yield return new TestCaseData(new[] { "--damping", "-1e-5" }, "damping").SetName("TensorMode_NegativeDamping_FailsWithoutOutputs");
        yield return new TestCaseData(new[] { "--segments", "20,30" }, "sum to 50, but G has d = 60").SetName("TensorMode_SegmentsNotSummingToD_FailWithoutOutputs");
        yield return new TestCaseData(new[] { "--method", "obs-magic" }, "unknown method").SetName("TensorMode_UnknownMethod_FailsWithoutOutputs");
        yield return new TestCaseData(new[] { "--method", "kfac" }, "kfac needs the model").SetName("TensorMode_KfacWithoutModel_FailsWithoutOutputs");
        yield return new TestCaseData(new[] { "--update", "sideways" }, "--update: \"sideways\" is not one of none, independent, joint").SetName("TensorMode_UnknownUpdate_FailsWithoutOutputs");
        yield return new TestCaseData(new[] { "--taylor-step", "-0.5" }, "taylor-step").SetName("TensorMode_NegativeTaylorStep_FailsWithoutOutputs");
        yield return new TestCaseData(new[] { "--grads", "MISMATCH" }, "columns").SetName("TensorMode_GradientsOfOtherD_FailWithoutOutputs");
        yield return new TestCaseData(new[] { "--strategy", "qr" }, "strategy").SetName("TensorMode_UnknownStrategy_FailsWithoutOutputs");
        yield return new TestCaseData(new[] { "--dampng", "1e-5" }, "unknown option --dampng (did you mean --damping?)").SetName("TensorMode_MisspelledOption_FailsWithoutOutputs");
        yield return new TestCaseData(new[] { "--sparsity", "90%" }, "--sparsity: \"90%\" is not a number in [0, 1)").SetName("TensorMode_PercentSparsity_NamesTheOption");
        yield return new TestCaseData(new[] { "--samples", "100" }, "--samples does not apply to tensor mode").SetName("TensorMode_ModelOption_IsRefusedNamingTheMode");
        yield return new TestCaseData(new[] { "--taylor-step", "0.5" }, "--taylor-step does not apply to --method woodfisher").SetName("TensorMode_TaylorStepWithoutWoodTaylor_IsRefused");
        yield return new TestCaseData(new[] { "--method", "woodtaylor", "--taylor-step", "1e300" }, "non-finite values").SetName("TensorMode_HugeTaylorStep_IsRefusedNotWrittenAsInf");
        yield return new TestCaseData(new[] { "--out-weights", "x.npy" }, "unknown option --out-weights (did you mean --out?)").SetName("TensorMode_OldOptionName_SuggestsTheNewOne");
        yield return new TestCaseData(new[] { "--mask", "SCORES" }, "--scores and --mask name the same file").SetName("TensorMode_TwoOutputsOnOneFile_AreRefused");
        yield return new TestCaseData(new[] { "--scores", "DIR" }, "--scores: ").SetName("TensorMode_ADirectoryInPlaceOfALaterOutput_WritesNothing");
        yield return new TestCaseData(new[] { "--weights", "INFW" }, ": 1 non-finite value").SetName("TensorMode_InfiniteInputWeight_IsRejectedLikeNaN");
    }

    [TestCaseSource(nameof(BadTensorInputs))]
    public void TensorMode_BadInput_FailsWithOneLineAndWritesNothing(string[] overrides, string mention)
    {
        WriteInputs();
        Npy.Write(P("g-other.npy"), new float[M * (D + 1)], M, D + 1);
        Npy.Write(P("w-inf.npy"), Enumerable.Range(0, D).Select(i => i == 7 ? double.PositiveInfinity : 1.0).ToArray(), D);
        var args = Tensor("woodfisher", "joint", 0.5).ToList();
        for (var i = 0; i < overrides.Length; i += 2)
        {
            var value = overrides[i + 1] switch
            {
                "MISMATCH" => P("g-other.npy"),
                "SCORES" => P("scores.npy"),
                "DIR" => Directory.CreateDirectory(P("adir")).FullName,
                "INFW" => P("w-inf.npy"),
                _ => overrides[i + 1],
            };
            var at = args.IndexOf(overrides[i]);
            if (at >= 0)
                args[at + 1] = value;
            else
                args.AddRange([overrides[i], value]);
        }
        var (code, stdout, stderr) = CliFixture.Run([.. args]);
        Assert.That(code, Is.Not.Zero);
        Assert.That(stdout, Is.Empty);
        var lines = Lines(stderr).Where(l => l.StartsWith("woodfisher:", StringComparison.Ordinal)).ToArray();
        Assert.That(lines, Has.Length.EqualTo(1), stderr);
        Assert.That(lines[0], Does.StartWith("woodfisher: ").And.Contain(mention));
        Assert.That(Directory.GetFiles(Dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "w.npy", "g.npy", "g-other.npy", "w-inf.npy" }), "no output, no temporary");
    }

    [Test]
    public void ModelMode_WritesPrunedModelWithAchievedSparsity_AndReport()
    {
        var model = TrainedMlp(Dir);
        var (code, stdout, stderr) = CliFixture.Run("prune", "--model", model, "--data", SliceDir, "--sparsity", "0.8",
            "--method", "woodfisher", "--block", "64", "--samples", "64", "--out", P("pruned.safetensors"), "--report", P("report.json"));
        Assert.That(code, Is.Zero, stderr);

        var pruned = ModelFiles.Load(P("pruned.safetensors"));
        Assert.That(pruned.Spec, Is.EqualTo("mlp:784-16-10"));
        var weights = pruned.Parameters.Where(p => p.IsPrunable).ToList();
        var zeros = weights.Sum(p => p.Data.Count(v => v == 0));
        var total = weights.Sum(p => p.Length);
        Assert.That(zeros, Is.EqualTo(MaskSelection.TargetCount(0.8, total)));
        Assert.That(pruned.Parameters.Where(p => !p.IsPrunable).SelectMany(p => p.Data).Count(v => v == 0), Is.Zero, "biases are not pruned by default");

        var report = PruningReport.FromJson(File.ReadAllText(P("report.json")));
        Assert.That(report.Method, Is.EqualTo("woodfisher"));
        Assert.That(report.AchievedSparsity, Is.EqualTo((double)zeros / total).Within(1e-12));
        Assert.That(report.Layers.Select(l => l.Name), Is.EqualTo(new[] { "fc1.weight", "fc2.weight" }));
        Assert.That(report.Dense!.Accuracy, Is.InRange(0.0, 1.0));
        Assert.That(report.Pruned!.Accuracy, Is.InRange(0.0, 1.0));
        Assert.That(report.Pruned.Loss, Is.GreaterThan(0));
        Assert.That(report.Seconds.Inverse, Is.GreaterThanOrEqualTo(0));
        Assert.That(report.DampingSearch, Has.Count.EqualTo(1), "the default damping is chosen by the calibration loss");
        Assert.That(report.DampingSearch![0].Grid, Is.SubsetOf(Damping.DefaultGrid).And.Contain(1e-4), "the λ the walk tried");
        Assert.That(report.Settings, Is.EqualTo(new PruningSettings
        {
            BlockSize = 64,
            FisherSamples = 64,
            FisherMiniBatch = 1,
            GradientStep = 1,
            Precision = Precision.Float32,
            Backend = BackendKind.Auto,
        }));
        var layer = Records(stdout, "layer").First();
        Assert.That((layer["layer"], layer["size"]), Is.EqualTo(("fc1.weight", "12544")));
        var accuracy = Records(stdout, "dense_accuracy").Single();
        Assert.That(accuracy.Keys, Is.SupersetOf(new[] { "dense_accuracy", "pruned_accuracy", "dense_loss", "pruned_loss" }), "plain output says which is dense and which pruned");
        Assert.That(double.Parse(accuracy["pruned_accuracy"], CultureInfo.InvariantCulture), Is.EqualTo(report.Pruned.Accuracy!.Value).Within(1e-6));
    }

    [Test]
    public void ModelMode_FisherSamplesAboveTrainingSet_FailsWithOneLineAndNoFiles()
    {
        var model = TrainedMlp(Dir);
        var (code, _, stderr) = CliFixture.Run("prune", "--model", model, "--data", SliceDir, "--sparsity", "0.5",
            "--method", "woodfisher", "--samples", "2001", "--out", P("pruned.safetensors"), "--report", P("r.json"));
        Assert.That(code, Is.Not.Zero);
        Assert.That(Lines(stderr), Has.Length.EqualTo(1));
        Assert.That(stderr, Does.Contain("--samples 2001: ").And.Contain("holds only 2000 samples"));
        Assert.That(File.Exists(P("pruned.safetensors")) || File.Exists(P("r.json")), Is.False);
    }

    [TestCase("magnitude", "--selection", "layerwise")]
    [TestCase("kfac", "--block", "32", "--samples", "32")]
    [TestCase("diagfisher", "--samples", "32")]
    [TestCase("woodtaylor", "--block", "32", "--samples", "32")]
    public void ModelMode_EveryMethod_ReachesTheTarget(string method, params string[] options)
    {
        var model = TrainedMlp(Dir);
        var (code, _, stderr) = CliFixture.Run(["prune", "--model", model, "--data", SliceDir, "--sparsity", "0.5",
            "--method", method, .. options, "--recompute", "2", "--out", P("pruned.safetensors"), "--report", P("r.json")]);
        Assert.That(code, Is.Zero, stderr);
        var report = PruningReport.FromJson(File.ReadAllText(P("r.json")));
        Assert.That(report.AchievedSparsity, Is.EqualTo(0.5).Within(1e-3));
        Assert.That(report.Update, Is.EqualTo(method == "magnitude" ? UpdateMode.None : UpdateMode.Joint), "magnitude is reported as update none");
        if (method == "magnitude")
            Assert.That(report.Layers.Select(l => l.Sparsity), Is.All.EqualTo(0.5).Within(1e-3), "layer-wise magnitude is a selection");
    }

    [Test]
    public void ModelMode_ExactHessianOnOneLayer_WithBias()
    {
        var model = TrainedMlp(Dir);
        var (code, stdout, stderr) = CliFixture.Run("prune", "--model", model, "--data", SliceDir, "--sparsity", "0.5", "--method", "exact",
            "--layers", "fc2", "--include-bias", "--samples", "16", "--out", P("pruned.safetensors"), "--report", P("r.json"));
        Assert.That(code, Is.Zero, stderr);
        var report = PruningReport.FromJson(File.ReadAllText(P("r.json")));
        Assert.That(report.Layers.Select(l => (l.Name, l.Size)), Is.EqualTo(new[] { ("fc2.weight", 160), ("fc2.bias", 10) }));
        Assert.That(report.Layers.Sum(l => l.Pruned), Is.EqualTo(MaskSelection.TargetCount(0.5, 170)));
        Assert.That(Records(stdout, "method").Single()["method"], Is.EqualTo("exact"));
    }

    // The Woodbury strategies are the same inverse up to rounding, so --strategy must not change which weights go, and
    // the OBS-updated survivors agree to float32 rounding of the inverse (relative 1e-3 of the largest weight).
    [Test]
    public void ModelMode_StrategyOption_RankKAndDenseGiveTheSamePrunedModel()
    {
        var model = TrainedMlp(Dir);
        float[][] Prune(string strategy)
        {
            var output = P($"pruned-{strategy}.safetensors");
            var (code, _, stderr) = CliFixture.Run("prune", "--model", model, "--data", SliceDir, "--sparsity", "0.6",
                "--block", "32", "--samples", "48", "--strategy", strategy, "--out", output);
            Assert.That(code, Is.Zero, stderr);
            return [.. SafeTensors.Read(output).Tensors.Where(t => t.Name.EndsWith(".weight", StringComparison.Ordinal)).Select(t => t.Array.ToFloat32())];
        }

        var rankk = Prune("rankk");
        var dense = Prune("dense");
        var scale = dense.SelectMany(w => w).Max(MathF.Abs);
        for (var t = 0; t < dense.Length; t++)
        {
            Assert.That(rankk[t].Select(v => v == 0), Is.EqualTo(dense[t].Select(v => v == 0)), $"mask of tensor {t}");
            Assert.That(rankk[t], Is.EqualTo(dense[t]).Within(1e-3 * scale), $"weights of tensor {t}");
        }
    }

    [TestCase("--layers", "fc9", "has no layer 'fc9'", TestName = "ModelMode_UnknownLayer_FailsWithoutOutputs")]
    [TestCase("--sparsity", "1.5", "sparsity", TestName = "ModelMode_BadSparsity_FailsWithoutOutputs")]
    [TestCase("--damping", "0", "damping", TestName = "ModelMode_ZeroDamping_FailsWithoutOutputs")]
    [TestCase("--method", "random", "unknown method", TestName = "ModelMode_UnknownMethod_FailsWithoutOutputs")]
    [TestCase("--strategy", "qr", "strategy", TestName = "ModelMode_UnknownStrategy_FailsWithoutOutputs")]
    [TestCase("--sparsty", "0.5", "unknown option --sparsty (did you mean --sparsity?)", TestName = "ModelMode_MisspelledOption_FailsWithoutOutputs")]
    [TestCase("--fisher-samples", "16", "unknown option --fisher-samples (did you mean --samples?)", TestName = "ModelMode_OldOptionName_SuggestsTheNewOne")]
    [TestCase("--segments", "10,20", "--segments does not apply to model mode", TestName = "ModelMode_TensorOption_IsRefusedNamingTheMode")]
    [TestCase("--report", "DIR", "--report: ", TestName = "ModelMode_ADirectoryInPlaceOfALaterOutput_WritesNothing")]
    public void ModelMode_BadInput_FailsWithOneLineAndWritesNothing(string option, string value, string mention)
    {
        var model = TrainedMlp(Dir);
        var args = new List<string> { "prune", "--model", model, "--data", SliceDir, "--sparsity", "0.5", "--samples", "16", "--out", P("pruned.safetensors"), "--report", P("r.json") };
        if (value == "DIR")
            value = Directory.CreateDirectory(P("adir")).FullName;
        var at = args.IndexOf(option);
        if (at >= 0)
            args[at + 1] = value;
        else
            args.AddRange([option, value]);
        var (code, _, stderr) = CliFixture.Run([.. args]);
        Assert.That(code, Is.Not.Zero);
        var lines = Lines(stderr);
        Assert.That(lines, Has.Length.EqualTo(1), stderr);
        Assert.That(lines[0], Does.StartWith("woodfisher: ").And.Contain(mention));
        Assert.That(File.Exists(P("pruned.safetensors")) || File.Exists(P("r.json")), Is.False);
    }
}
