using System.Diagnostics;
using System.IO.Compression;
using WoodFisher.Models.Training;

namespace WoodFisher.Models.Tests;

/// <summary>Trains mlp:784-300-100-10 on the real Fashion-MNIST when present; explicit because it takes about a minute.</summary>
[Explicit("Needs /usr/share/datasets/fashion-mnist and ~1 min; run with --filter FashionMnist")]
public class FashionMnistTrainingTests
{
    private const string Dir = "/usr/share/datasets/fashion-mnist";

    // Minimal gz IDX reader (big-endian magic 0x803 / 0x801, counts, then bytes); the library's reader lives in Data/.
    private static byte[] ReadIdx(string path, out int count, out int per)
    {
        using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var ms = new MemoryStream();
        gz.CopyTo(ms);
        var b = ms.ToArray();
        int Be(int o) => (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
        var dims = b[3];
        count = Be(4);
        per = 1;
        for (var i = 1; i < dims; i++)
            per *= Be(4 + 4 * i);
        return b[(4 + 4 * dims)..];
    }

    private static (float[] X, int[] Y, int N) Load(string prefix)
    {
        var img = ReadIdx(Path.Combine(Dir, prefix + "-images-idx3-ubyte.gz"), out var n, out var per);
        var lab = ReadIdx(Path.Combine(Dir, prefix + "-labels-idx1-ubyte.gz"), out _, out _);
        return (img.Select(v => v / 255f).ToArray(), lab.Select(v => (int)v).ToArray(), n);
    }

    [Test]
    public void Mlp_ReachesAtLeast85PercentTestAccuracy()
    {
        if (!Directory.Exists(Dir))
            Assert.Ignore($"{Dir} not present");
        var (x, y, n) = Load("train");
        var (tx, ty, tn) = Load("t10k");
        var m = ModelFactory.Create("mlp:784-300-100-10", seed: 0);
        var sw = Stopwatch.StartNew();
        var epochs = 3;
        var hist = Trainer.Train(m, x, y, n, new TrainerOptions
        {
            Epochs = epochs,
            BatchSize = 128,
            Schedule = LearningRateSchedule.Constant(0.05),
            Momentum = 0.9,
            Seed = 1,
        });
        var perEpoch = sw.Elapsed.TotalSeconds / epochs;
        var r = Evaluation.Evaluate(m, tx, ty, tn);
        TestContext.Out.WriteLine($"seconds/epoch {perEpoch:F2}; train losses {string.Join(", ", hist.Select(h => h.ToString("F4", System.Globalization.CultureInfo.InvariantCulture)))}; test loss {r.Loss:F4}, accuracy {r.Accuracy:P2}");
        sw.Restart();
        var src = new PerSampleGradientSource(m, x, y, 1000);
        var g = new float[1000 * src.Dimension];
        src.Read(g, 1000);
        TestContext.Out.WriteLine($"per-sample gradients of 1000 samples (d = {src.Dimension}): {sw.Elapsed.TotalSeconds:F2} s");
        Assert.That(r.Accuracy, Is.GreaterThanOrEqualTo(0.85));
    }

    [Test]
    public void LeNet5_OneEpochTiming()
    {
        if (!Directory.Exists(Dir))
            Assert.Ignore($"{Dir} not present");
        var (x, y, n) = Load("train");
        var (tx, ty, tn) = Load("t10k");
        var m = ModelFactory.Create("lenet5", seed: 0);
        var sw = Stopwatch.StartNew();
        Trainer.Train(m, x, y, n, new TrainerOptions { Epochs = 1, BatchSize = 128, Schedule = LearningRateSchedule.Constant(0.05), Momentum = 0.9, Seed = 1 });
        var epoch = sw.Elapsed.TotalSeconds;
        var r = Evaluation.Evaluate(m, tx, ty, tn);
        sw.Restart();
        var g = PerSampleGradients.Compute(m, x, y, 1000, ParameterSelection<float>.Prunable(m));
        TestContext.Out.WriteLine($"lenet5: seconds/epoch {epoch:F1}; test accuracy after 1 epoch {r.Accuracy:P2}; per-sample gradients of 1000 samples (d = {g.Length / 1000}) {sw.Elapsed.TotalSeconds:F2} s");
        Assert.That(r.Accuracy, Is.GreaterThan(0.7));
    }
}
