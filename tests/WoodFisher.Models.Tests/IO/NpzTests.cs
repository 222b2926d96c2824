using System.IO.Compression;
using WoodFisher.IO;

namespace WoodFisher.Models.Tests.IO;

public class NpzTests
{
    private static NamedArray[] Arrays() =>
    [
        new("w", NdArray.Create(new float[] { 1.25f, -0f, float.Epsilon, 3e38f, 0, 0 }, 2, 3)),
        new("b.npy", NdArray.Create(new double[] { Math.PI, double.NegativeInfinity })),
        new("mask", NdArray.Create(new[] { true, false, true })),
        new("idx", NdArray.Create(new long[] { 1, 1L << 40 })),
    ];

    [TestCase(false, TestName = "Npz_RoundTrip_IsBitExact_Stored")]
    [TestCase(true, TestName = "Npz_RoundTrip_IsBitExact_Deflated")]
    public void Npz_RoundTrip_IsBitExact(bool compress)
    {
        using var dir = new TempDir();
        var path = dir.File("a.npz");
        Npz.Write(path, Arrays(), compress);
        var back = Npz.Read(path);
        Assert.That(back.Select(a => a.Name), Is.EqualTo(new[] { "w", "b", "mask", "idx" }));
        foreach (var (orig, got) in Arrays().Zip(back))
        {
            Assert.That(got.Array.DType, Is.EqualTo(orig.Array.DType));
            Assert.That(got.Array.Shape, Is.EqualTo(orig.Array.Shape));
            Assert.That(got.Array.AsBytes().ToArray(), Is.EqualTo(orig.Array.AsBytes().ToArray()));
        }
        using var zip = ZipFile.OpenRead(path);
        Assert.That(zip.Entries.Select(e => e.FullName), Is.EqualTo(new[] { "w.npy", "b.npy", "mask.npy", "idx.npy" }));
        Assert.That(zip.Entries.All(e => compress ? e.CompressedLength < e.Length : e.CompressedLength == e.Length), Is.True);
    }

    [Test]
    public void Npz_ReadByName_And_List()
    {
        using var dir = new TempDir();
        var path = dir.File("a.npz");
        Npz.Write(path, Arrays(), compress: true);
        Assert.That(Npz.List(path), Is.EqualTo(new[] { "w", "b", "mask", "idx" }));
        Assert.That(Npz.Read(path, "mask").GetData<bool>(), Is.EqualTo(new[] { true, false, true }));
        Assert.That(Npz.Read(path, "b.npy").GetData<double>()[0], Is.EqualTo(Math.PI));
        var ex = Assert.Throws<KeyNotFoundException>(() => Npz.Read(path, "nope"));
        Assert.That(ex!.Message, Does.Contain("present: w, b, mask, idx"));
    }

    [Test]
    public void Npz_DuplicateNames_AreRejected()
    {
        using var dir = new TempDir();
        Assert.Throws<ArgumentException>(() => Npz.Write(dir.File("d.npz"), [new("a", NdArray.Create(new[] { 1 })), new("a.npy", NdArray.Create(new[] { 2 }))]));
        Assert.That(Directory.GetFiles(dir.Path), Is.Empty, "a failed write leaves no file behind");
    }

    [Test]
    public void Npz_NotAZip_IsInvalidData()
    {
        using var dir = new TempDir();
        var path = dir.File("x.npz");
        File.WriteAllBytes(path, [0x50, 0x4b, 3, 4, 1, 2, 3]);
        var ex = Assert.Throws<InvalidDataException>(() => Npz.Read(path));
        Assert.That(ex!.Message, Does.Contain(path));
    }

    [TestCase(CompressionLevel.NoCompression, TestName = "Npz_CorruptMember_IsInvalidData_NamingTheMember_Stored")]
    [TestCase(CompressionLevel.Optimal, TestName = "Npz_CorruptMember_IsInvalidData_NamingTheMember_Deflated")]
    public void Npz_CorruptMember_IsInvalidData_NamingTheMember(CompressionLevel level)
    {
        using var dir = new TempDir();
        var path = dir.File("c.npz");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            using var s = zip.CreateEntry("bad.npy", level).Open();
            // A header declaring 10^6 doubles followed by only 8 bytes.
            s.Write(NpyTests.HandMade(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000,), }", new byte[8]));
        }
        var ex = Assert.Throws<InvalidDataException>(() => Npz.Read(path));
        Assert.That(ex!.Message, Does.Contain("bad.npy"));
    }
}
