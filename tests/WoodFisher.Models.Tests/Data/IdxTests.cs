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
        // Cuts inside the deflate data and inside the 8-byte CRC/size trailer (which .NET's GZipStream lets through; Idx checks it).
        var gz = Gzip(TinyImages);
        for (int n = 2; n < gz.Length; n++)
            Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(gz[..n]), "t"), $"cut gzip at {n}");
    }

    /// <summary>The embedded slice's label file, gzip as published (10 + deflate + 8-byte CRC32/ISIZE trailer).</summary>
    private static byte[] SliceLabelsGz()
    {
        using var s = typeof(Idx).Assembly.GetManifestResourceStream("WoodFisher.Models.Data.t10k-labels-idx1-ubyte.gz")!;
        var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }

    [Test]
    public void Idx_GzipSliceFile_IsRead()
    {
        var labels = Idx.ReadLabels(new MemoryStream(SliceLabelsGz()), "t10k-labels.gz");
        Assert.That(labels, Has.Length.EqualTo(1000));
        Assert.That(labels.Max(), Is.EqualTo(9));
    }

    [Test]
    public void Idx_GzipCutInsideTrailer_IsInvalidData_NamingTheFile()
    {
        foreach (var gz in new[] { SliceLabelsGz(), Gzip(TinyImages) })
        {
            for (int cut = 1; cut <= 8; cut++)
            {
                var ex = Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(gz[..^cut]), "cut.gz"), $"{cut} bytes cut");
                Assert.That(ex!.Message, Does.Contain("cut.gz"));
            }
        }
    }

    [TestCase(8, TestName = "Idx_GzipTrailerMismatch_IsInvalidData_Crc")]
    [TestCase(5, TestName = "Idx_GzipTrailerMismatch_IsInvalidData_CrcHighByte")]
    [TestCase(4, TestName = "Idx_GzipTrailerMismatch_IsInvalidData_Size")]
    public void Idx_GzipTrailerMismatch_IsInvalidData(int fromEnd)
    {
        foreach (var gz in new[] { SliceLabelsGz(), Gzip(TinyImages) })
        {
            gz[^fromEnd] ^= 0x01;
            var ex = Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(gz), "flip.gz"));
            Assert.That(ex!.Message, Does.Contain("flip.gz"));
        }
    }

    [Test]
    public void Idx_GzipOfTwoMembers_IsReadAsTheirConcatenation()
    {
        // RFC 1952 §2.2: a gzip file is a series of members; each trailer covers its own member's data.
        var two = Gzip(TinyImages[..10]).Concat(Gzip(TinyImages[10..])).ToArray();
        var a = Idx.Read(new MemoryStream(two), "two.gz");
        Assert.That(a.AsBytes().ToArray(), Is.EqualTo(TinyImages[16..]));
        two[^8] ^= 0x01;
        Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(two), "two.gz"));
        Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(two[..^3]), "two.gz"));
    }

    [Test]
    public void Crc32_MatchesTheCheckValueOfTheStandard()
        => Assert.That(Crc32.Compute("123456789"u8), Is.EqualTo(0xCBF43926u));

    [Test]
    public void Crc32_SlicedByEight_EqualsBitwiseDefinition_AtEveryLengthAndSplit()
    {
        // Reference: one bit at a time, straight from the reflected polynomial 0xEDB88320.
        static uint Bitwise(ReadOnlySpan<byte> data)
        {
            uint c = 0xFFFFFFFF;
            foreach (var b in data)
            {
                c ^= b;
                for (int k = 0; k < 8; k++)
                    c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
            }
            return ~c;
        }

        var bytes = new byte[70];
        new Random(3).NextBytes(bytes);
        for (int n = 0; n <= bytes.Length; n++)
        {
            var expected = Bitwise(bytes.AsSpan(0, n));
            Assert.That(Crc32.Compute(bytes.AsSpan(0, n)), Is.EqualTo(expected), $"length {n}");
            Assert.That(Crc32.Append(Crc32.Compute(bytes.AsSpan(0, n / 3)), bytes.AsSpan(n / 3, n - (n / 3))), Is.EqualTo(expected), $"split {n / 3} + {n - (n / 3)}");
        }
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
