using WoodFisher.IO;

namespace WoodFisher.Models.Tests.IO;

public class NpyWriterTests
{
    [Test]
    public void StreamedChunks_EqualOneNpyWrite_AndReadBack()
    {
        using var dir = new TempDir();
        var data = Enumerable.Range(0, 7 * 5).Select(i => i * 0.5f - 3).ToArray();
        var path = dir.File("g.npy");
        using (var w = new NpyWriter(path, 5))
        {
            w.WriteRows(data.AsSpan(0, 10));
            w.WriteRows(data.AsSpan(10, 25));
            Assert.That(w.Rows, Is.EqualTo(7));
            w.Commit();
        }
        var a = Npy.Read(path);
        Assert.That(a.DType, Is.EqualTo(DType.Float32));
        Assert.That(a.Shape, Is.EqualTo(new long[] { 7, 5 }));
        Assert.That(a.GetData<float>(), Is.EqualTo(data));
        using var rows = new NpyRowReader(path);
        Assert.That(rows.Rows, Is.EqualTo(7));
    }

    [Test]
    public void Float64_ZeroRows_IsAValidEmptyArray()
    {
        using var dir = new TempDir();
        var path = dir.File("e.npy");
        using (var w = new NpyWriter(path, 3, DType.Float64))
            w.Commit();
        var a = Npy.Read(path);
        Assert.That(a.DType, Is.EqualTo(DType.Float64));
        Assert.That(a.Shape, Is.EqualTo(new long[] { 0, 3 }));
    }

    [Test]
    public void DisposedWithoutCommit_LeavesNoFile()
    {
        using var dir = new TempDir();
        var path = dir.File("g.npy");
        using (var w = new NpyWriter(path, 2))
            w.WriteRows(new float[] { 1, 2 });
        Assert.That(Directory.GetFiles(dir.Path), Is.Empty);
    }

    [Test]
    public void PartialRow_Throws()
    {
        using var dir = new TempDir();
        using var w = new NpyWriter(dir.File("g.npy"), 4);
        Assert.Throws<ArgumentException>(() => w.WriteRows(new float[] { 1, 2, 3 }));
        Assert.Throws<InvalidOperationException>(() => w.WriteRows(new double[] { 1, 2, 3, 4 }));
    }

    [Test]
    [Category("Interop")]
    public void StreamedFile_IsReadByNumPy()
    {
        using var dir = new TempDir();
        var path = dir.File("g.npy");
        using (var w = new NpyWriter(path, 3))
        {
            w.WriteRows(new float[] { 1, 2, 3 });
            w.WriteRows(new float[] { 4, 5, 6.5f });
            w.Commit();
        }
        var got = Python.Run("a = np.load(sys.argv[1]); print(a.dtype.str, a.shape, a.ravel().tolist())", path);
        Assert.That(got, Is.EqualTo("<f4 (2, 3) [1.0, 2.0, 3.0, 4.0, 5.0, 6.5]"));
    }
}
