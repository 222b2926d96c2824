using System.IO.Compression;
using WoodFisher.IO;
using WoodFisher.Models.Data;
using WoodFisher.Models.Tests.IO;

namespace WoodFisher.Models.Tests.Data;

public class IdxTests
{
    /// <summary>A 2-image 2×3 file built from the published IDX layout: 00 00 08 03, big-endian dims, pixels.</summary>
    private static readonly byte[] TinyImages =
    [
        0, 0, 0x08, 0x03, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3,
        0, 51, 102, 153, 204, 255,
        255, 0, 0, 0, 0, 1,
    ];

    private static readonly byte[] TinyLabels = [0, 0, 0x08, 0x01, 0, 0, 0, 2, 9, 0];

    private static byte[] Gzip(byte[] raw)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
            gz.Write(raw);
        return ms.ToArray();
    }

    [TestCase(false, TestName = "Idx_HandBuiltFile_IsRead_Raw")]
    [TestCase(true, TestName = "Idx_HandBuiltFile_IsRead_Gzip")]
    public void Idx_HandBuiltFile_IsRead(bool gzip)
    {
        using var dir = new TempDir();
        // Gzip is detected from the bytes, not the file name: name both files without .gz.
        File.WriteAllBytes(dir.File("img"), gzip ? Gzip(TinyImages) : TinyImages);
        File.WriteAllBytes(dir.File("lab"), gzip ? Gzip(TinyLabels) : TinyLabels);
        var (pixels, n, rows, cols) = Idx.ReadImages(dir.File("img"));
        Assert.That((n, rows, cols), Is.EqualTo((2, 2, 3)));
        Assert.That(pixels, Is.EqualTo(new[] { 0f, 0.2f, 0.4f, 0.6f, 0.8f, 1f, 1f, 0, 0, 0, 0, 1 / 255f }).Within(1e-7f));
        Assert.That(Idx.ReadLabels(dir.File("lab")), Is.EqualTo(new byte[] { 9, 0 }));
        var ds = DataSets.LoadIdx(dir.File("img"), dir.File("lab"));
        Assert.That((ds.Count, ds.FeatureShape), Is.EqualTo((2, new FeatureShape(1, 2, 3))));
        Assert.That(ds.Labels, Is.EqualTo(new[] { 9, 0 }));
    }

    [Test]
    public void Idx_WriteThenRead_RoundTrips_AllElementTypes()
    {
        using var dir = new TempDir();
        var arrays = new[]
        {
            NdArray.Create(new byte[] { 1, 2, 3, 4, 5, 6 }, 1, 2, 3),
            NdArray.Create(new[] { -1, 1 << 30 }),
            NdArray.Create(new[] { 1.5f, -2.25f }, 2, 1),
            NdArray.Create(new[] { Math.E }),
        };
        foreach (var gz in new[] { true, false })
            foreach (var a in arrays)
            {
                var path = dir.File("x.idx");
                Idx.Write(path, a, gz);
                Assert.That(File.ReadAllBytes(path)[0], Is.EqualTo(gz ? 0x1f : 0));
                var b = Idx.Read(path);
                Assert.That(b.DType, Is.EqualTo(a.DType));
                Assert.That(b.Shape, Is.EqualTo(a.Shape));
                Assert.That(b.AsBytes().ToArray(), Is.EqualTo(a.AsBytes().ToArray()));
            }
    }

    [Test]
    public void Idx_WrongMagic_IsInvalidData()
    {
        var bad = (byte[])TinyImages.Clone();
        bad[0] = 7;
        var ex = Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(bad), "bad.idx"));
        Assert.That(ex!.Message, Does.Contain("bad.idx").And.Contain("byte 0"));
    }

    [Test]
    public void Idx_UnknownElementType_IsRejected()
    {
        var bad = (byte[])TinyImages.Clone();
        bad[2] = 0x42;
        Assert.Throws<NotSupportedException>(() => Idx.Read(new MemoryStream(bad), "t.idx"));
    }

    [Test]
    public void Idx_TruncatedAtEveryByte_IsInvalidData_RawAndGzip()
    {
        for (int n = 0; n < TinyImages.Length; n++)
        {
            var cut = TinyImages[..n];
            Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(cut), "t"), $"raw cut at {n}");
            Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(Gzip(cut)), "t"), $"gzip of cut at {n}");
        }
        // Cuts inside the deflate data. (A cut in the 8-byte CRC/size trailer after complete data is not detected by .NET's GZipStream.)
        var gz = Gzip(TinyImages);
        for (int n = 2; n < gz.Length - 12; n++)
            Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(gz[..n]), "t"), $"cut gzip at {n}");
    }

    [Test]
    public void Idx_HugeDimensions_AreRejectedWithoutAllocating()
    {
        byte[] huge = [0, 0, 0x08, 0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 1, 2, 3];
        Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(huge), "h"));
        byte[] large = [0, 0, 0x08, 0x01, 0x40, 0, 0, 0, 1, 2, 3]; // declares 1 GiB, holds 3 bytes
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(large), "l"));
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(64L << 20));
    }

    [Test]
    public void Idx_ReadImages_RejectsLabelFile()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("lab"), TinyLabels);
        Assert.Throws<InvalidDataException>(() => Idx.ReadImages(dir.File("lab")));
    }
}
