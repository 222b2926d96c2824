using System.Diagnostics;
using System.Globalization;
using WoodFisher.Cli.Infrastructure;
using WoodFisher.IO;
using WoodFisher.Models;
using WoodFisher.Models.Data;

namespace WoodFisher.Cli.Tests;

/// <summary>
/// <c>train</c>, <c>eval</c> and <c>grads</c> end to end on the repository's Fashion-MNIST slice (2,000 train / 1,000 test):
/// one small MLP is trained once for the fixture, then evaluated and differentiated through the CLI and checked against
/// the library computed in-process.
/// </summary>
[NonParallelizable]
public class ModelCommandsTests
{
    private const string Arch = "mlp:784-32-10";
    private string _dir = "";
    private string _data = "";
    private string _model = "";
    private string _trainOut = "";

    private static (int Code, string Out, string Err) Run(params string[] args) => CliFixture.Run(args);

    [OneTimeSetUp]
    public void TrainOnce()
    {
        _dir = Path.Combine(Path.GetTempPath(), "wf-cli-models-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
        _data = Path.GetDirectoryName(InspectCommandTests.FindRepoFile("data/fashion-mnist-slice/train-images-idx3-ubyte.gz"))!;
        _model = Path.Combine(_dir, "model.safetensors");
        CliConsole.InteractiveOverride = false;
        var (code, stdout, stderr) = Run("train", "--arch", Arch, "--data", _data, "--epochs", "2", "--train-samples", "500",
            "--batch", "50", "--lr", "0.1", "--seed", "1", "--out", _model, "--log", Path.Combine(_dir, "log.csv"));
        Assert.That(code, Is.Zero, stderr);
        _trainOut = stdout;
    }

    [OneTimeTearDown]
    public void TearDown()
    {
        CliConsole.InteractiveOverride = null;
        Directory.Delete(_dir, recursive: true);
    }

    [SetUp]
    public void Plain() => CliConsole.InteractiveOverride = false;

    private string File(string name) => Path.Combine(_dir, name);

    [Test]
    public void Train_PrintsOneLinePerEpoch_WritesModelCsvAndPng()
    {
        var epochs = _trainOut.Split('\n').Where(l => l.StartsWith("epoch=", StringComparison.Ordinal)).ToArray();
        Assert.That(epochs, Has.Length.EqualTo(2));
        Assert.That(epochs[1], Does.Match(@"^epoch=2/2 train_loss=\S+ test_loss=\S+ test_accuracy=\S+ lr=0\.1 seconds=\S+$"), "labelled fields");

        var csv = System.IO.File.ReadAllLines(File("log.csv"));
        Assert.That(csv[0], Is.EqualTo("epoch,train_loss,test_loss,test_accuracy,lr,seconds"));
        Assert.That(csv, Has.Length.EqualTo(3));
        var last = csv[2].Split(',');
        // 2 epochs of 500 samples: well above chance (0.1) on the 1,000 test images, and the training loss fell.
        Assert.That(double.Parse(last[3], CultureInfo.InvariantCulture), Is.GreaterThan(0.5));
        Assert.That(double.Parse(last[1], CultureInfo.InvariantCulture), Is.LessThan(double.Parse(csv[1].Split(',')[1], CultureInfo.InvariantCulture)));

        var png = System.IO.File.ReadAllBytes(File("log.png"));
        Assert.That(png.AsSpan(0, 8).ToArray(), Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10 }));
        Assert.That(Directory.GetFiles(_dir, ".*"), Is.Empty, "no temporaries left");

        var file = SafeTensors.Read(_model);
        Assert.That(file.Metadata[ModelFiles.ArchKey], Is.EqualTo(Arch));
        Assert.That(file.Tensors.Select(t => t.Name), Is.EqualTo(new[] { "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias" }));
    }

    [Test]
    public void Eval_PrintsTheLibrarysLossAndAccuracy()
    {
        var (code, stdout, stderr) = Run("eval", "--model", _model, "--data", _data);
        Assert.That(code, Is.Zero, stderr);
        var test = DataSets.Load(_data, "test");
        var r = Evaluation.Evaluate(ModelFiles.Load(_model), test.Images, test.Labels, test.Count);
        var train = DataSets.Load(_data, "train");
        var t = Evaluation.Evaluate(ModelFiles.Load(_model), train.Images, train.Labels, train.Count);
        Assert.That(stdout.Trim().Split('\n'), Is.EqualTo(new[]
        {
            string.Create(CultureInfo.InvariantCulture, $"split=test loss={r.Loss:g6} accuracy={r.Accuracy:g6} samples=1000 model={Arch}"),
            string.Create(CultureInfo.InvariantCulture, $"split=train loss={t.Loss:g6} accuracy={t.Accuracy:g6} samples=2000 model={Arch}"),
        }), "both splits, test first, when --split is not given");
        var (code1, one, _) = Run("eval", "--model", _model, "--data", _data, "--split", "test");
        Assert.That(code1, Is.Zero);
        Assert.That(one.Trim(), Does.StartWith("split=test ").And.Not.Contain("\n"));
    }

    [Test]
    public void Grads_FirstSamples_RowsEqualInProcessPerSampleGradients()
    {
        var g = File("g.npy");
        var (code, stdout, stderr) = Run("grads", "--model", _model, "--data", _data, "--samples", "40", "--include-bias",
            "--out", g, "--layout", File("g.json"));
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Does.Contain("tensor=fc1.weight shape=32x784 offset=0 length=25088"));

        var model = ModelFiles.Load(_model);
        var train = DataSets.Load(_data, "train");
        var selection = ParameterSelection<float>.Prunable(model, includeBiases: true);
        var expected = PerSampleGradients.Compute(model, train.Images, train.Labels, 40, selection);
        var got = Npy.ReadFloat32(g, 40, selection.Dimension).GetData<float>();
        Assert.That(got, Is.EqualTo(expected));

        var json = System.IO.File.ReadAllText(File("g.json"));
        Assert.That(json, Does.Contain("\"dimension\": 25450").And.Contain("\"name\": \"fc2.bias\""));
    }

    [Test]
    public void Grads_SeedAndMinibatch_MatchTheSeededGroupedSource()
    {
        var g = File("gs.npy");
        var (code, _, stderr) = Run("grads", "--model", _model, "--data", _data, "--samples", "24", "--minibatch", "4",
            "--seed", "5", "--layers", "fc2", "--out", g);
        Assert.That(code, Is.Zero, stderr);

        var model = ModelFiles.Load(_model);
        var train = DataSets.Load(_data, "train");
        var source = new PerSampleGradientSource(model, train.Images, train.Labels, 24, ParameterSelection<float>.ByNames(model, ["fc2.weight"]), 4, 5);
        var expected = new float[6 * 320];
        Assert.That(source.Read(expected, 6), Is.EqualTo(6));
        Assert.That(Npy.ReadFloat32(g, 6, 320).GetData<float>(), Is.EqualTo(expected));
    }

    [Test]
    [Category("Interop")]
    public void Grads_File_LoadsInNumPy_WithTheRightShape()
    {
        const string python = "/usr/bin/python3";
        var g = File("gn.npy");
        var (code, _, stderr) = Run("grads", "--model", _model, "--data", _data, "--samples", "10", "--out", g);
        Assert.That(code, Is.Zero, stderr);
        if (!System.IO.File.Exists(python))
            Assert.Ignore($"{python} is not installed");
        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("import sys\ntry:\n import numpy as np\nexcept ImportError:\n print('no numpy'); sys.exit(0)\n" +
            "import hashlib\na = np.load(sys.argv[1]); print(a.dtype.str, a.shape, hashlib.sha256(a.tobytes()).hexdigest())");
        psi.ArgumentList.Add(g);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        Assert.That(p.ExitCode, Is.Zero, p.StandardError.ReadToEnd());
        if (output == "no numpy")
            Assert.Ignore($"NumPy is not importable by {python}");
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Npy.Read(g).AsBytes()));
        Assert.That(output, Is.EqualTo($"<f4 (10, 25408) {hash}"));
    }

    private static IEnumerable<TestCaseData> Failures()
    {
        yield return new TestCaseData(new[] { "train", "--arch", "vgg16", "--epochs", "1" }, "vgg16").SetName("Train_UnknownArch_FailsWithOneLine");
        yield return new TestCaseData(new[] { "train", "--arch", "resnet20", "--epochs", "1" }, "3x32x32").SetName("Train_ArchNotFittingTheData_FailsWithOneLine");
        yield return new TestCaseData(new[] { "train", "--arch", Arch, "--epochs", "1", "--train-samples", "5000" }, "5000").SetName("Train_TooManySamples_FailsWithOneLine");
        yield return new TestCaseData(new[] { "train", "--arch", Arch, "--epochs", "1", "--schedule", "linear" }, "--schedule").SetName("Train_BadSchedule_FailsWithOneLine");
        yield return new TestCaseData(new[] { "grads", "--model", "MODEL", "--samples", "5000" }, "5000").SetName("Grads_TooManySamples_FailsWithOneLine");
        yield return new TestCaseData(new[] { "grads", "--model", "MODEL", "--layers", "fc9" }, "fc9").SetName("Grads_UnknownLayer_FailsWithOneLine");
        yield return new TestCaseData(new[] { "grads", "--model", "MODEL", "--samples", "10", "--minibatch", "3" }, "multiple").SetName("Grads_SamplesNotAMultipleOfMinibatch_FailsWithOneLine");
        yield return new TestCaseData(new[] { "grads", "--model", "nope.safetensors" }, "nope.safetensors").SetName("Grads_MissingModel_FailsWithOneLine");
        yield return new TestCaseData(new[] { "grads", "--model", "MODEL", "--arch", "mlp:784-64-10" }, "fc1.weight").SetName("Grads_WrongArch_NamesTheTensor");
        yield return new TestCaseData(new[] { "eval", "--model", "MODEL", "--split", "val" }, "--split").SetName("Eval_BadSplit_FailsWithOneLine");
        yield return new TestCaseData(new[] { "train", "--arch", Arch, "--epochs", "1", "--lr", "Infinity" }, "--lr: \"Infinity\" is not a positive number").SetName("Train_InfiniteLearningRate_IsRefused");
        yield return new TestCaseData(new[] { "train", "--arch", Arch, "--epochs", "1", "--weight-decay", "NaN" }, "--weight-decay: \"NaN\"").SetName("Train_NaNWeightDecay_IsRefused");
        yield return new TestCaseData(new[] { "train", "--arch", Arch, "--epochs", "1", "--lr", "1e30" }, "training diverged at epoch 1, step").SetName("Train_Diverging_StopsNamingEpochAndStep");
        yield return new TestCaseData(new[] { "eval", "--model", "NANMODEL" }, "holds NaN at element 3").SetName("Eval_NaNWeights_IsAnError");
        yield return new TestCaseData(new[] { "grads", "--model", "INFMODEL" }, "holds Infinity at element 3").SetName("Grads_InfiniteWeights_AreRejectedLikeNaN");
    }

    [TestCaseSource(nameof(Failures))]
    public void Command_BadInput_FailsWithOneLine_AndWritesNothing(string[] args, string mention)
    {
        var outDir = Path.Combine(_dir, "fail-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(outDir);
        var output = Path.Combine(outDir, args[0] == "grads" ? "g.npy" : "m.safetensors");
        var full = args.Select(a => a switch
        {
            "MODEL" => _model,
            "NANMODEL" => Poisoned(float.NaN),
            "INFMODEL" => Poisoned(float.PositiveInfinity),
            "nope.safetensors" => Path.Combine(outDir, a),
            _ => a,
        }).ToList();
        full.AddRange(["--data", _data]);
        if (args[0] != "eval")
            full.AddRange(["--out", output]);
        var (code, stdout, stderr) = Run([.. full]);
        Assert.That(code, Is.Not.Zero);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("woodfisher: ", StringComparison.Ordinal)).ToArray();
        Assert.That(lines, Has.Length.EqualTo(1), stderr);
        Assert.That(lines[0], Does.Contain(mention));
        Assert.That(stdout, Is.Empty);
        Assert.That(Directory.GetFiles(outDir), Is.Empty);
    }

    /// <summary>The fixture's model with one weight set to <paramref name="value"/>, saved beside it.</summary>
    private string Poisoned(float value)
    {
        var model = ModelFiles.Load(_model);
        model.Parameters[0].Data[3] = value;
        var path = File($"poisoned-{Guid.NewGuid():N}.safetensors");
        ModelFiles.Save(model, path);
        return path;
    }
}
