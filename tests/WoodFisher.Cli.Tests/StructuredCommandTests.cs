using System.Globalization;
using WoodFisher.IO;
using WoodFisher.Kernels.Sparse;
using WoodFisher.Models;

namespace WoodFisher.Cli.Tests;

/// <summary>prune --pattern, compress, eval --engine and bench-inference, end to end on a small trained MLP.</summary>
public sealed class StructuredCommandTests : CliFixture
{
    private string _model = "";

    [SetUp]
    public void Train() => _model = PruneTestSupport.TrainedMlp(Dir, "mlp:784-32-16-10");

    [TestCase("magnitude", "2:4")]
    [TestCase("woodfisher", "2:4")]
    [TestCase("woodfisher", "1:4")]
    public void Prune_NofM_WritesAModelWhoseWeightsAreNofM(string method, string pattern)
    {
        string[] curvature = method == "magnitude" ? [] : ["--samples", "64", "--block", "32"];
        var (code, stdout, stderr) = Run(["prune", "--model", _model, "--data", PruneTestSupport.SliceDir, "--method", method, "--pattern", pattern, .. curvature,
            "--out", P("p.safetensors")]);
        Assert.That(code, Is.Zero, stderr);
        var (n, m) = (int.Parse(pattern[..1], CultureInfo.InvariantCulture), int.Parse(pattern[2..], CultureInfo.InvariantCulture));
        foreach (var p in ModelFiles.Load(P("p.safetensors")).Parameters.Where(p => p.IsPrunable))
            Assert.That(NofMMatrix.Fits(p.Data, p.Shape[0], p.Length / p.Shape[0], n, m), $"{p.Name} is {pattern}");
        Assert.That(PruneTestSupport.Records(stdout, "target_sparsity").Single()["target_sparsity"], Is.EqualTo(((double)(m - n) / m).ToString(CultureInfo.InvariantCulture)));
    }

    [Test]
    public void Prune_NofM_RefusesASparsity_AndOthersNeedOne()
    {
        var (code, _, stderr) = Run("prune", "--model", _model, "--pattern", "2:4", "--sparsity", "0.7", "--out", P("p.safetensors"));
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("--sparsity does not apply to --pattern 2:4"));
        (code, _, stderr) = Run("prune", "--model", _model, "--pattern", "block:1x4", "--out", P("p.safetensors"));
        Assert.That((code, stderr), Is.EqualTo((2, "woodfisher: --sparsity is required (the target sparsity in [0, 1))\n")));
        (code, _, stderr) = Run("prune", "--model", _model, "--pattern", "3:2", "--out", P("p.safetensors"));
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("--pattern").And.Contain("N < M"));
        Assert.That(File.Exists(P("p.safetensors")), Is.False);
    }

    [Test]
    public void Prune_Neurons_WritesTheSmallerModel_WithTheSameAccuracy()
    {
        var (code, stdout, stderr) = Run("prune", "--model", _model, "--data", PruneTestSupport.SliceDir, "--method", "woodfisher", "--pattern", "neurons",
            "--sparsity", "0.5", "--samples", "64", "--block", "32", "--out", P("small.safetensors"));
        Assert.That(code, Is.Zero, stderr);
        var small = ModelFiles.Load(P("small.safetensors"));
        Assert.That(small.Spec, Does.Match(@"^mlp:784-\d+-\d+-10$"));
        Assert.That(small.Parameters.Sum(p => p.Length), Is.LessThan(ModelFactory.ParameterCount("mlp:784-32-16-10")));
        var units = PruneTestSupport.Records(stdout, "units");
        Assert.That(units.Sum(u => int.Parse(u["before"], CultureInfo.InvariantCulture) - int.Parse(u["after"], CultureInfo.InvariantCulture)), Is.EqualTo(24), "half of 48 hidden units");
        var pruned = PruneTestSupport.Records(stdout, "pruned_accuracy").Single()["pruned_accuracy"];
        (code, stdout, _) = Run("eval", "--model", P("small.safetensors"), "--data", PruneTestSupport.SliceDir, "--split", "test");
        Assert.That(PruneTestSupport.Fields(stdout.Trim())["accuracy"], Is.EqualTo(pruned), "the file holds the evaluated model");
    }

    [Test]
    public void Compress_ThenEvalWithEitherEngine_GivesTheModelsAccuracy()
    {
        Assert.That(Run("prune", "--model", _model, "--method", "magnitude", "--sparsity", "0.9", "--out", P("p.safetensors")).Code, Is.Zero);
        var (code, stdout, stderr) = Run("compress", "--model", P("p.safetensors"), "--out", P("c.safetensors"));
        Assert.That(code, Is.Zero, stderr);
        Assert.That(PruneTestSupport.Records(stdout, "weight").First()["format"], Is.EqualTo("csr"));
        Assert.That(new FileInfo(P("c.safetensors")).Length, Is.LessThan(0.3 * new FileInfo(P("p.safetensors")).Length));

        var lines = new List<Dictionary<string, string>>();
        foreach (var args in new[] { new[] { "--model", P("p.safetensors") }, ["--model", P("c.safetensors")], ["--model", P("c.safetensors"), "--engine", "dense"], ["--model", P("c.safetensors"), "--engine", "sparse"] })
        {
            (code, stdout, stderr) = Run(["eval", .. args, "--data", PruneTestSupport.SliceDir, "--split", "test"]);
            Assert.That(code, Is.Zero, stderr);
            lines.Add(PruneTestSupport.Records(stdout, "split").Single());
        }


        Assert.That(lines.Select(l => l["accuracy"]).Distinct().Count(), Is.EqualTo(1), "one accuracy from the model, the compressed file and both engines");
        Assert.That(double.Parse(lines[3]["loss"], CultureInfo.InvariantCulture), Is.EqualTo(double.Parse(lines[0]["loss"], CultureInfo.InvariantCulture)).Within(1e-5));
        Assert.That(long.Parse(lines[3]["weight_bytes"], CultureInfo.InvariantCulture), Is.LessThan(0.25 * long.Parse(lines[2]["weight_bytes"], CultureInfo.InvariantCulture)));
    }

    /// <summary>The sparse engine names the hidden units it removed (those left without inputs) in prune's records, and keeps the accuracy.</summary>
    [Test]
    public void EvalSparse_NamesTheZeroInputUnitsItRemoves()
    {
        var model = ModelFiles.Load(_model);
        var fc1 = model.Parameters.Single(p => p.Name == "fc1.weight");
        foreach (var u in new[] { 2, 9, 30 })
            Array.Clear(fc1.Data, u * 784, 784);
        ModelFiles.Save(model, P("z.safetensors"));
        var (code, stdout, stderr) = Run("eval", "--model", P("z.safetensors"), "--data", PruneTestSupport.SliceDir, "--split", "test", "--engine", "sparse");
        Assert.That(code, Is.Zero, stderr);
        Assert.That(PruneTestSupport.Records(stdout, "units").Select(u => (u["units"], u["before"], u["after"])), Is.EqualTo(new[] { ("fc1", "32", "29") }));
        (code, var dense, stderr) = Run("eval", "--model", P("z.safetensors"), "--data", PruneTestSupport.SliceDir, "--split", "test");
        Assert.That(code, Is.Zero, stderr);
        Assert.That(PruneTestSupport.Records(stdout, "split").Single()["accuracy"], Is.EqualTo(PruneTestSupport.Records(dense, "split").Single()["accuracy"]));
    }

    [Test]
    public void Compress_ToAFormatTheWeightsDoNotFit_FailsAndWritesNothing()
    {
        var (code, _, stderr) = Run("compress", "--model", _model, "--format", "2:4", "--out", P("c.safetensors"));
        Assert.That(code, Is.EqualTo(1));
        Assert.That(stderr, Does.StartWith("woodfisher: fc1.weight cannot be stored as 2:4: Row 0, group 0"));
        Assert.That(Directory.GetFiles(Dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "dense.safetensors" }), "no output or temporary left");
        (code, _, stderr) = Run("compress", "--model", _model, "--format", "zip", "--out", P("c.safetensors"));
        Assert.That((code, stderr.Contains("--format", StringComparison.Ordinal)), Is.EqualTo((2, true)));
    }

    [Test]
    public void Eval_OfACorruptCompressedFile_FailsWithOneLineNamingTheByte()
    {
        Assert.That(Run("prune", "--model", _model, "--method", "magnitude", "--sparsity", "0.9", "--out", P("p.safetensors")).Code, Is.Zero);
        Assert.That(Run("compress", "--model", P("p.safetensors"), "--out", P("c.safetensors")).Code, Is.Zero);
        var file = SafeTensors.Read(P("c.safetensors"));
        file["fc1.weight.col_indices"].GetData<int>()[3] = 5000;
        SafeTensors.Write(P("c.safetensors"), file.Tensors, file.Metadata);
        var at = SafeTensors.Read(P("c.safetensors")).DataOffset("fc1.weight.col_indices") + 12;
        var (code, stdout, stderr) = Run("eval", "--model", P("c.safetensors"), "--engine", "sparse", "--split", "test");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(stdout, Is.Empty);
        Assert.That(stderr.Trim(), Is.EqualTo($"woodfisher: {P("c.safetensors")}: tensor 'fc1.weight.col_indices' at byte {at} (entry 3): Column index 3 is 5000, outside [0, 784)."));
        (code, _, stderr) = Run("eval", "--model", _model, "--engine", "fast");
        Assert.That((code, stderr.Contains("dense or sparse", StringComparison.Ordinal)), Is.EqualTo((2, true)));
    }

    [Test]
    public void BenchInference_ReportsBothEnginesPerBatch_AndWritesTheTable()
    {
        Assert.That(Run("prune", "--model", _model, "--method", "magnitude", "--sparsity", "0.9", "--out", P("p.safetensors")).Code, Is.Zero);
        var (code, stdout, stderr) = Run("bench-inference", "--model", P("p.safetensors"), "--baseline", _model, "--data", PruneTestSupport.SliceDir,
            "--batch", "1,8", "--runs", "2", "--seconds", "0.01", "--report", P("b.md"));
        Assert.That(code, Is.Zero, stderr);
        var rows = PruneTestSupport.Records(stdout, "engine");
        Assert.That(rows.Select(r => (r["batch"], r["engine"])), Is.EqualTo(new[] { ("1", "dense"), ("1", "sparse"), ("8", "dense"), ("8", "sparse") }));
        // Two runs of at least three pairs of samples each, every sample the same whole number of calls for both engines.
        var speedups = PruneTestSupport.Records(stdout, "speedup");
        Assert.That(speedups, Has.Count.EqualTo(2));
        Assert.That(speedups.Select(r => int.Parse(r["pairs"], CultureInfo.InvariantCulture)), Has.All.GreaterThanOrEqualTo(6));
        Assert.That(speedups.Select(r => long.Parse(r["calls_per_sample"], CultureInfo.InvariantCulture)), Has.All.GreaterThanOrEqualTo(1));
        var summary = PruneTestSupport.Records(stdout, "bytes_ratio").Single();
        Assert.That(double.Parse(summary["bytes_ratio"], CultureInfo.InvariantCulture), Is.LessThan(0.25));
        Assert.That(File.ReadAllText(P("b.md")), Does.Contain("| batch | engine | latency ms (median) |").And.Contain("sparse speed-up"));
        (code, _, stderr) = Run("bench-inference", "--model", P("p.safetensors"), "--data", PruneTestSupport.SliceDir, "--batch", "5000");
        Assert.That((code, stderr.Contains("holds only 1000 samples", StringComparison.Ordinal)), Is.EqualTo((2, true)));
    }
}
