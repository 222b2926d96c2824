using WoodFisher.Cli.Infrastructure;
using WoodFisher.IO;

namespace WoodFisher.Cli.Tests;

/// <summary>Runs <c>woodfisher</c> in-process; Console is process-wide, so these tests do not run in parallel.</summary>
[NonParallelizable]
public class InspectCommandTests : CliFixture
{
    private static string[] Row(string output, string name) =>
        output.Split('\n').Select(l => l.TrimEnd('\r')).First(l => l.StartsWith(name + "\t", StringComparison.Ordinal)).Split('\t');

    [Test]
    public void Inspect_Npy_PrintsNameDTypeShapeAndStats()
    {
        var path = Path.Combine(Dir, "grads.npy");
        Npy.Write(path, new float[] { 0, 1, 2, 0, -4, 7 }, 2, 3);
        var (code, stdout, stderr) = Run("inspect", path);
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Does.Contain("name\tdtype\tshape\tmin\tmax\tmean\tzeros"));
        Assert.That(Row(stdout, "grads"), Is.EqualTo(new[] { "grads", "float32", "2x3", "-4", "7", "1", "0.3333" }));
    }

    [Test]
    public void Inspect_NpzAndSafetensors_ListEveryArray()
    {
        var npz = Path.Combine(Dir, "a.npz");
        Npz.Write(npz, [new("w", NdArray.Create(new double[] { 1, 2 })), new("m", NdArray.Create(new[] { true, false, false, false }))], compress: true);
        var st = Path.Combine(Dir, "m.safetensors");
        SafeTensors.Write(st, [new("fc1.weight", NdArray.Create(new float[] { 0.5f, 1.5f }, 1, 2))], new Dictionary<string, string> { ["format"] = "pt" });

        var (code, stdout, _) = Run("inspect", npz);
        Assert.That(code, Is.Zero);
        Assert.That(Row(stdout, "w")[1..3], Is.EqualTo(new[] { "float64", "2" }));
        Assert.That(Row(stdout, "m")[^1], Is.EqualTo("0.7500"));

        (code, stdout, _) = Run("inspect", st);
        Assert.That(code, Is.Zero);
        Assert.That(Row(stdout, "fc1.weight"), Is.EqualTo(new[] { "fc1.weight", "float32", "1x2", "0.5", "1.5", "1", "0.0000" }));
        Assert.That(stdout, Does.Contain("# metadata format=pt"));
    }

    [Test]
    public void Inspect_EmbeddedIdxSlice_ShowsItsShapeAndPixelRange()
    {
        var path = FindRepoFile("data/fashion-mnist-slice/t10k-images-idx3-ubyte.gz");
        var (code, stdout, stderr) = Run("inspect", path);
        Assert.That(code, Is.Zero, stderr);
        var row = Row(stdout, "t10k-images-idx3-ubyte");
        Assert.That(row[1..5], Is.EqualTo(new[] { "uint8", "1000x28x28", "0", "255" }));

        (code, stdout, _) = Run("inspect", FindRepoFile("data/fashion-mnist-slice/train-labels-idx1-ubyte.gz"));
        Assert.That(code, Is.Zero);
        Assert.That(Row(stdout, "train-labels-idx1-ubyte")[1..5], Is.EqualTo(new[] { "uint8", "2000", "0", "9" }));
    }

    [TestCase("bad.npy", new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, 0xff, 0x7f }, "header length", TestName = "Inspect_TruncatedNpy_FailsWithOneLine")]
    [TestCase("bad.safetensors", new byte[] { 8, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'x' }, "bad.safetensors", TestName = "Inspect_CorruptSafetensors_FailsWithOneLine")]
    [TestCase("bad.bin", new byte[] { 1, 2, 3, 4 }, "unrecognised", TestName = "Inspect_UnknownFormat_FailsWithOneLine")]
    public void Inspect_CorruptFile_FailsWithOneLine(string name, byte[] bytes, string mention)
    {
        var path = Path.Combine(Dir, name);
        File.WriteAllBytes(path, bytes);
        var (code, stdout, stderr) = Run("inspect", path);
        Assert.That(code, Is.Not.Zero);
        Assert.That(stdout, Is.Empty);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1));
        Assert.That(lines[0], Does.StartWith("woodfisher: ").And.Contain(mention));
    }

    [Test]
    public void Inspect_MissingFile_FailsWithOneLine()
    {
        var (code, _, stderr) = Run("inspect", Path.Combine(Dir, "nope.npy"));
        Assert.That(code, Is.Not.Zero);
        Assert.That(stderr.Trim(), Does.StartWith("woodfisher: ").And.Contain("nope.npy"));
    }

    internal static string FindRepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate))
                return candidate;
        }
        Assert.Ignore($"{relative} not found above {AppContext.BaseDirectory}");
        return "";
    }
}
