using WoodFisher.IO;

namespace WoodFisher.Models.Tests.IO;

public class NpyGradientSourceTests
{
    private static float[] Matrix(int m, int d) => Enumerable.Range(0, m * d).Select(i => i * 0.25f - 3).ToArray();

    [TestCase(DType.Float32)]
    [TestCase(DType.Float64)]
    public void GradientSource_StreamsAllRowsInChunks_AndResets(DType dtype)
    {
        using var dir = new TempDir();
        var path = dir.File("g.npy");
        var g = Matrix(7, 5);
        if (dtype == DType.Float32)
            Npy.Write(path, g, 7, 5);
        else
            Npy.Write(path, g.Select(v => (double)v).ToArray(), 7, 5);

        using var src = new NpyGradientSource(path, [2, 3]);
        Assert.That((src.Dimension, src.Count), Is.EqualTo((5, 7L)));
        Assert.That(src.Segments, Is.EqualTo(new[] { 2, 3 }));
        for (int pass = 0; pass < 2; pass++)
        {
            var all = new List<float>();
            var buf = new float[3 * 5];
            var sizes = new List<int>();
            int n;
            while ((n = src.Read(buf, 3)) > 0)
            {
                sizes.Add(n);
                all.AddRange(buf.AsSpan(0, n * 5).ToArray());
            }
            Assert.That(sizes, Is.EqualTo(new[] { 3, 3, 1 }));
            Assert.That(all, Is.EqualTo(g));
            src.Reset();
        }
    }

    [Test]
    public void GradientSource_DefaultsToOneSegment_AndChecksSegments()
    {
        using var dir = new TempDir();
        var path = dir.File("g.npy");
        Npy.Write(path, Matrix(2, 4), 2, 4);
        using (var src = new NpyGradientSource(path))
            Assert.That(src.Segments, Is.EqualTo(new[] { 4 }));
        Assert.Throws<ArgumentException>(() => new NpyGradientSource(path, [1, 2]));
    }

    [Test]
    public void GradientSource_RejectsNon2DAndIntegerFiles()
    {
        using var dir = new TempDir();
        Npy.Write(dir.File("v.npy"), new float[] { 1, 2 });
        Npy.Write(dir.File("i.npy"), new[] { 1, 2 }, 1, 2);
        Assert.Throws<InvalidDataException>(() => new NpyGradientSource(dir.File("v.npy")));
        Assert.Throws<InvalidDataException>(() => new NpyGradientSource(dir.File("i.npy")));
    }

    [Test]
    public void RowReader_TruncatedFile_IsRejectedAtOpen()
    {
        using var dir = new TempDir();
        var path = dir.File("t.npy");
        Npy.Write(path, Matrix(4, 4), 4, 4);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^5]);
        var ex = Assert.Throws<InvalidDataException>(() => new NpyRowReader(path));
        Assert.That(ex!.Message, Does.Contain("truncated"));
    }
}
