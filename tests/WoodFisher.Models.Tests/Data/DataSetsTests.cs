using WoodFisher.Models.Data;
using WoodFisher.Models.Tests.IO;

namespace WoodFisher.Models.Tests.Data;

[NonParallelizable] // touches the WOODFISHER_DATA environment variable
public class DataSetsTests
{
    [TestCase("train", 2000)]
    [TestCase("test", 1000)]
    public void EmbeddedSlice_HasDocumentedCounts_AndPixelsInUnitRange(string split, int count)
    {
        var ds = DataSets.LoadEmbedded(split);
        Assert.Multiple(() =>
        {
            Assert.That(ds.Count, Is.EqualTo(count));
            Assert.That(ds.FeatureShape, Is.EqualTo(new FeatureShape(1, 28, 28)));
            Assert.That(ds.Images, Has.Length.EqualTo(count * 784));
            Assert.That(ds.Images.Min(), Is.EqualTo(0f));
            Assert.That(ds.Images.Max(), Is.EqualTo(1f));
            Assert.That(ds.Labels.Distinct().Order(), Is.EqualTo(Enumerable.Range(0, 10)));
            Assert.That(ds.ClassCount, Is.EqualTo(10));
        });
    }

    [Test]
    public void ScalePixels_EqualsTheScalarDivision_ForEveryByte_AtEveryVectorTail()
    {
        // Every byte value, at lengths that leave each possible remainder after the vector loops: the vectorised
        // conversion must give the bits of the correctly rounded scalar b / 255f, on which the recorded accuracies rest.
        for (var n = 256; n < 256 + 70; n++)
        {
            var bytes = Enumerable.Range(0, n).Select(i => (byte)(i * 37 % 256)).ToArray();
            var scaled = Idx.ScalePixels(bytes);
            for (var i = 0; i < n; i++)
            {
                if (BitConverter.SingleToInt32Bits(scaled[i]) != BitConverter.SingleToInt32Bits(bytes[i] / 255f))
                    Assert.Fail($"n = {n}, byte {bytes[i]} at {i}: {scaled[i]:R} instead of {bytes[i] / 255f:R}");
            }
        }
    }

    [Test]
    public void EmbeddedSlice_IsThePrefixOfTheFullDataSet_WhenInstalled()
    {
        var dir = DataSets.SystemDirectory;
        if (!File.Exists(Path.Combine(dir, "t10k-labels-idx1-ubyte.gz")))
            Assert.Ignore($"{dir} is not installed (apt-get install dataset-fashion-mnist)");
        var full = DataSets.Load(dir, "test");
        var slice = DataSets.LoadEmbedded("test");
        Assert.That(full.Count, Is.EqualTo(10000));
        Assert.That(full.Take(1000).Images, Is.EqualTo(slice.Images));
        Assert.That(full.Take(1000).Labels, Is.EqualTo(slice.Labels));
    }

    [Test]
    public void Load_PrefersEnvironmentVariable_ThenExplicitDirectoryWins()
    {
        using var dir = new TempDir();
        Idx.Write(dir.File("t10k-images-idx3-ubyte.gz"), WoodFisher.IO.NdArray.Create(new byte[2 * 4], 2, 2, 2));
        Idx.Write(dir.File("t10k-labels-idx1-ubyte"), WoodFisher.IO.NdArray.Create(new byte[] { 1, 2 }), gzip: false);
        var old = Environment.GetEnvironmentVariable(DataSets.EnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(DataSets.EnvironmentVariable, dir.Path);
            var ds = DataSets.Load(split: "test");
            Assert.That((ds.Count, ds.FeatureShape), Is.EqualTo((2, new FeatureShape(1, 2, 2))));
            Assert.That(DataSets.DescribeSource(split: "test"), Is.EqualTo(dir.Path));

            Environment.SetEnvironmentVariable(DataSets.EnvironmentVariable, Path.Combine(dir.Path, "missing"));
            Assert.Throws<DirectoryNotFoundException>(() => DataSets.Load(split: "test"));
            Assert.Throws<FileNotFoundException>(() => DataSets.Load(dir.Path, "train"), "explicit dir without train files");
        }
        finally
        {
            Environment.SetEnvironmentVariable(DataSets.EnvironmentVariable, old);
        }
    }

    [Test]
    public void Load_WithoutOverrides_FallsBackToSystemOrEmbedded()
    {
        var old = Environment.GetEnvironmentVariable(DataSets.EnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(DataSets.EnvironmentVariable, null);
            var ds = DataSets.Load(split: "test");
            bool system = File.Exists(Path.Combine(DataSets.SystemDirectory, "t10k-images-idx3-ubyte.gz"));
            Assert.That(ds.Count, Is.EqualTo(system ? 10000 : 1000));
        }
        finally
        {
            Environment.SetEnvironmentVariable(DataSets.EnvironmentVariable, old);
        }
    }

    [Test]
    public void Load_UnknownSplit_IsArgumentError() =>
        Assert.Throws<ArgumentException>(() => DataSets.Load(split: "validation"));
}
