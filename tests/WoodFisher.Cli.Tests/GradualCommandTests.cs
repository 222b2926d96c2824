using System.Buffers.Binary;
using WoodFisher.Cli.Infrastructure;
using WoodFisher.Models;
using static WoodFisher.Cli.Tests.PruneTestSupport;

namespace WoodFisher.Cli.Tests;

/// <summary><c>woodfisher gradual</c>: cubic schedule with masked fine-tuning, CSV log and PNG plot.</summary>
[NonParallelizable]
public class GradualCommandTests : CliFixture
{
    [TestCase("woodfisher")]
    [TestCase("magnitude")]
    public void Gradual_TwoEpochs_WritesCsvPngAndModelAtTarget(string method)
    {
        var model = TrainedMlp(Dir);
        string[] estimate = method == "magnitude" ? [] : ["--block", "32", "--samples", "32"];
        var (code, stdout, stderr) = CliFixture.Run(["gradual", "--model", model, "--data", SliceDir, "--sparsity", "0.8", "--epochs", "2",
            "--method", method, .. estimate, "--train-samples", "300", "--out", P("final.safetensors"), "--log", P("log.csv")]);
        Assert.That(code, Is.Zero, stderr);
        if (method == "woodfisher")
            Assert.That(stdout + stderr, Does.Contain("chose λ = ").And.Contain(" for all 4 steps"), "each pruning step in 4 OBS steps by default");

        var csv = File.ReadAllLines(P("log.csv"));
        Assert.That(csv[0], Is.EqualTo("epoch,target_sparsity,achieved_sparsity,test_accuracy,test_loss"));
        Assert.That(csv.Skip(1).Select(l => l.Split(',')[0]), Is.EqualTo(new[] { "0", "1", "2" }));
        var last = csv[^1].Split(',').Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.That(last[1], Is.EqualTo(0.8));
        Assert.That(last[2], Is.EqualTo(0.8).Within(1e-3), "the masks held through fine-tuning");

        var png = File.ReadAllBytes(P("log.png"));
        Assert.That(png.Length, Is.GreaterThan(1000));
        Assert.That(png.Take(8), Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }));
        Assert.That(BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), Is.EqualTo(800), "IHDR width");
        Assert.That(BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)), Is.EqualTo(500), "IHDR height");
        using (var bitmap = SkiaSharp.SKBitmap.Decode(P("log.png")))
        {
            // The achieved-sparsity line (Category10 orange) is drawn over the target line it coincides with, so it shows.
            var orange = 0;
            for (var y = 0; y < bitmap.Height; y++)
            {
                for (var x = 0; x < bitmap.Width; x++)
                {
                    var c = bitmap.GetPixel(x, y);
                    if (Math.Abs(c.Red - 255) < 30 && Math.Abs(c.Green - 127) < 40 && c.Blue < 80)
                        orange++;
                }
            }
            Assert.That(orange, Is.GreaterThan(300), "the achieved-sparsity line is visible");
        }
        var epochs = Records(stdout, "epoch");
        Assert.That(epochs.Select(r => r["epoch"]), Is.EqualTo(new[] { "0", "1", "2" }));
        Assert.That(epochs[^1].Keys, Is.SupersetOf(new[] { "target_sparsity", "sparsity", "test_accuracy", "test_loss" }), "labelled fields");

        var final = ModelFiles.Load(P("final.safetensors"));
        var weights = final.Parameters.Where(p => p.IsPrunable).ToList();
        Assert.That((double)weights.Sum(p => p.Data.Count(v => v == 0)) / weights.Sum(p => p.Length), Is.EqualTo(0.8).Within(1e-3));
    }

    [Test]
    public void Gradual_NofM_RampsToThePatternsOwnSparsity_AndRefusesAnother()
    {
        var model = TrainedMlp(Dir);
        var (code, _, stderr) = CliFixture.Run("gradual", "--model", model, "--data", SliceDir, "--pattern", "2:4", "--sparsity", "0.8", "--epochs", "2",
            "--out", P("final.safetensors"), "--log", P("log.csv"));
        Assert.That((code, stderr), Is.EqualTo((2, "woodfisher: --sparsity does not apply to --pattern 2:4: N:M prunes 2 of every 4 inputs, sparsity 0.5\n")));
        (code, _, stderr) = CliFixture.Run("gradual", "--model", model, "--data", SliceDir, "--epochs", "2", "--out", P("final.safetensors"), "--log", P("log.csv"));
        Assert.That((code, stderr), Is.EqualTo((2, "woodfisher: --sparsity is required (the final sparsity in [0, 1))\n")));
        Assert.That(File.Exists(P("log.csv")) || File.Exists(P("final.safetensors")), Is.False);

        (code, _, stderr) = CliFixture.Run("gradual", "--model", model, "--data", SliceDir, "--pattern", "2:4", "--epochs", "2", "--method", "magnitude",
            "--train-samples", "300", "--out", P("final.safetensors"), "--log", P("log.csv"));
        Assert.That(code, Is.Zero, stderr);
        var last = File.ReadAllLines(P("log.csv"))[^1].Split(',');
        Assert.That(last[1], Is.EqualTo("0.5"), "the schedule ends at 2:4's sparsity");
        foreach (var p in ModelFiles.Load(P("final.safetensors")).Parameters.Where(p => p.IsPrunable))
            Assert.That(Kernels.Sparse.NofMMatrix.Fits(p.Data, p.Shape[0], p.Length / p.Shape[0], 2, 4), $"{p.Name} is 2:4");
    }

    [Test]
    public void Gradual_TargetAboveOne_FailsWithOneLineAndNoFiles()
    {
        var model = TrainedMlp(Dir);
        var (code, _, stderr) = CliFixture.Run("gradual", "--model", model, "--data", SliceDir, "--sparsity", "1", "--epochs", "2",
            "--out", P("final.safetensors"), "--log", P("log.csv"));
        Assert.That(code, Is.Not.Zero);
        Assert.That(Lines(stderr), Has.Length.EqualTo(1));
        Assert.That(File.Exists(P("log.csv")) || File.Exists(P("final.safetensors")) || File.Exists(P("log.png")), Is.False);
    }

    [Test]
    public void Gradual_FisherSamplesAboveTrainingSet_FailsWithOneLineAndNoFiles()
    {
        var model = TrainedMlp(Dir);
        var (code, _, stderr) = CliFixture.Run("gradual", "--model", model, "--data", SliceDir, "--sparsity", "0.5", "--epochs", "2",
            "--train-samples", "300", "--samples", "301", "--out", P("final.safetensors"), "--log", P("log.csv"));
        Assert.That(code, Is.Not.Zero);
        Assert.That(Lines(stderr), Has.Length.EqualTo(1));
        Assert.That(stderr, Does.Contain("--samples 301: ").And.Contain("holds only 300 samples"));
        Assert.That(File.Exists(P("log.csv")) || File.Exists(P("final.safetensors")) || File.Exists(P("log.png")), Is.False);
    }
}
