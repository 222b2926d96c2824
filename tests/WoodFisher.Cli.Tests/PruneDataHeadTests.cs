using System.Buffers.Binary;
using System.IO.Compression;
using static WoodFisher.Cli.Tests.PruneTestSupport;

namespace WoodFisher.Cli.Tests;

/// <summary>
/// <c>prune --model</c> reads only its Fisher samples before the work starts; the rest of the training split is checked
/// meanwhile, and a split damaged further on must still fail the command before it writes anything.
/// </summary>
[NonParallelizable]
public class PruneDataHeadTests : CliFixture
{
    private static byte[] Idx(uint[] dims, byte[] payload)
    {
        var b = new byte[4 + (4 * dims.Length) + payload.Length];
        b[2] = 0x08;
        b[3] = (byte)dims.Length;
        for (var i = 0; i < dims.Length; i++)
            BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(4 + (4 * i)), dims[i]);
        payload.CopyTo(b, 4 + (4 * dims.Length));
        return b;
    }

    // 24,000 images (18.8 MB) inflate in more than one read of the loader's first 16 MiB, so the 64 Fisher samples are
    // handed over, and the work done, before the damaged trailer is reached.
    [Test]
    public void TrainSplitDamagedAfterTheSamples_FailsWithOneLine_AndWritesNothing()
    {
        const int n = 24000;
        var model = TrainedMlp(Dir);
        var data = Directory.CreateDirectory(P("data")).FullName;
        foreach (var f in new[] { "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" })
            File.Copy(Path.Combine(SliceDir, f), Path.Combine(data, f));
        using (var ms = new MemoryStream())
        {
            using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
                gz.Write(Idx([n, 28, 28], [.. Enumerable.Range(0, n * 784).Select(i => (byte)((i * 7) + (i / 977)))]));
            var file = ms.ToArray();
            file[^8] ^= 0x01;
            File.WriteAllBytes(Path.Combine(data, "train-images-idx3-ubyte.gz"), file);
        }

        File.WriteAllBytes(Path.Combine(data, "train-labels-idx1-ubyte"), Idx([n], [.. Enumerable.Range(0, n).Select(i => (byte)(i % 10))]));
        var before = Directory.GetFiles(Dir).Select(Path.GetFileName).ToList();
        var (code, stdout, stderr) = Run("prune", "--model", model, "--data", data, "--samples", "64", "--sparsity", "0.5", "--method", "woodfisher",
            "--block", "64", "--damping", "1e-4", "--out", P("out.safetensors"), "--report", P("r.json"));
        Assert.That(code, Is.EqualTo(1), stderr);
        Assert.That(stdout, Is.Empty);
        var errors = Lines(stderr).Where(l => l.StartsWith("woodfisher: ", StringComparison.Ordinal)).ToArray();
        Assert.That(errors, Has.Length.EqualTo(1), stderr);
        Assert.That(errors[0], Does.Contain("train-images-idx3-ubyte.gz").And.Contain("corrupt"));
        Assert.That(Directory.GetFiles(Dir).Select(Path.GetFileName), Is.EquivalentTo(before), "no output, no temporary file");
    }
}
