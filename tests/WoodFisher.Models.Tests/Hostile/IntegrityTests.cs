using System.IO.Compression;
using WoodFisher.IO;
using WoodFisher.Models.Data;
using WoodFisher.Models.Tests.IO;

namespace WoodFisher.Models.Tests.Hostile;

/// <summary>Corrupt files are detected, and every message names the file and the problem in words a user can act on.</summary>
public class IntegrityTests
{
    [TestCase(false)]
    [TestCase(true)]
    public void NpzMember_WithAFlippedDataByte_FailsItsCrc32(bool compress)
    {
        var npz = HostileFiles.Npz("w", NdArray.Create(Enumerable.Range(0, 64).Select(i => (float)i).ToArray()), compress);
        byte[] bad;
        if (compress)
        {
            // Rewrite the member's content with one byte changed but keep the archive's recorded CRC-32.
            uint crc;
            using (var zip = new ZipArchive(new MemoryStream(npz)))
                crc = zip.Entries[0].Crc32;
            var npy = new MemoryStream();
            Npy.Write(npy, NdArray.Create(Enumerable.Range(0, 64).Select(i => i == 7 ? 8f : i).ToArray()));
            bad = WithCrc(HostileFiles.Zip("w.npy", npy.ToArray(), compress: true), crc);
        }
        else
        {
            bad = (byte[])npz.Clone();
            var at = FindLast(bad, BitConverter.GetBytes(63f));
            bad[at] ^= 1;
        }

        var error = Assert.Throws<InvalidDataException>(() => Npz.Read(new MemoryStream(bad), "w.npz"));
        Assert.That(error!.Message, Does.StartWith("w.npz[w.npy]: CRC-32 mismatch"));
    }

    [Test]
    public void CorruptGzipIdx_SaysCorrupt_NotUnsupportedCompressionMethod()
    {
        var gz = HostileFiles.Gzip(HostileFiles.Idx(0x08, [1000], Enumerable.Range(0, 1000).Select(i => (byte)(i * 7)).ToArray()));
        gz[10] |= 0x06; // the first deflate block's type becomes 11, which RFC 1951 reserves: an invalid stream
        var error = Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(gz), "labels.gz"));
        Assert.That(error!.Message, Does.StartWith("labels.gz: ").And.Contain("corrupt").And.Not.Contain("unsupported compression method"));
    }

    [Test]
    public void Safetensors_NonNumericOffsets_NameTheFileAndTensor()
    {
        var bytes = HostileFiles.SafeTensors("""{"w":{"dtype":"F32","shape":[1],"data_offsets":["0","4"]}}""", new byte[4]);
        var error = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(new MemoryStream(bytes), "m.safetensors"));
        Assert.That(error!.Message, Is.EqualTo("m.safetensors: tensor 'w': data_offsets must be integers with 0 <= begin <= end"));
    }

    [Test]
    public void Safetensors_ZeroDimensionNextToAHugeOne_ReadsAsEmpty_AndIsRefusedAsAModel()
    {
        using var dir = new TempDir();
        var path = dir.File("z.safetensors");
        File.WriteAllBytes(path, HostileFiles.SafeTensors("""{"fc1.weight":{"dtype":"F32","shape":[4611686018427387904,4,0],"data_offsets":[0,0]}}"""));
        Assert.That(SafeTensors.Read(path)["fc1.weight"].Length, Is.Zero);
        var error = Assert.Throws<InvalidDataException>(() => ModelFiles.Load(path));
        Assert.That(error!.Message, Does.StartWith(path).And.Contain("'fc1.weight'").And.Contain("between 1 and 2³¹−1"));
    }

    [Test]
    public void ZeroRowLayer_IsRefusedWithTheFileNamed()
    {
        using var dir = new TempDir();
        var path = dir.File("zero.safetensors");
        File.WriteAllBytes(path, HostileFiles.SafeTensors(
            """{"fc1.weight":{"dtype":"F32","shape":[0,784],"data_offsets":[0,0]},"fc2.weight":{"dtype":"F32","shape":[10,0],"data_offsets":[0,0]}}"""));
        var error = Assert.Throws<InvalidDataException>(() => ModelFiles.Load(path));
        Assert.That(error!.Message, Does.StartWith(path).And.Contain("(0, 784)"));
    }

    [TestCase(new byte[] { 0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0, 8, 0 }, TestName = "PyTorchZip_IsNotASafetensorsFile")]
    [TestCase(new byte[] { 0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8 }, TestName = "LegacyPickle_IsNotASafetensorsFile")]
    public void PyTorchPickle_IsNamedAsSuch(byte[] start)
    {
        using var dir = new TempDir();
        var path = dir.File("model.pt");
        File.WriteAllBytes(path, start.Concat(new byte[200]).ToArray());
        var error = Assert.Throws<InvalidDataException>(() => ModelFiles.Load(path));
        Assert.That(error!.Message, Is.EqualTo($"{path}: not a safetensors file (looks like a PyTorch pickle; save with safetensors.torch.save_file)"));
    }

    [Test]
    [Category("Interop")]
    public void TorchSave_File_IsNamedAsAPickle()
    {
        using var dir = new TempDir();
        var path = dir.File("model.pt");
        var ok = Python.Run("""
            try:
                import torch
            except ImportError:
                print('no torch'); sys.exit(0)
            torch.save({'fc1.weight': torch.zeros(3, 2)}, sys.argv[1])
            torch.save({'fc1.weight': torch.zeros(3, 2)}, sys.argv[1] + '.legacy', _use_new_zipfile_serialization=False)
            print('ok')
            """, path);
        if (ok != "ok")
            Assert.Ignore("PyTorch is not importable by /usr/bin/python3.");
        foreach (var p in new[] { path, path + ".legacy" })
        {
            var error = Assert.Throws<InvalidDataException>(() => ModelFiles.Load(p));
            Assert.That(error!.Message, Does.Contain("looks like a PyTorch pickle"), p);
        }
    }

    [Test]
    public void ControlCharactersInNames_AreEscapedInMessages()
    {
        var bytes = HostileFiles.SafeTensors("""{"\u001b]0;owned\u0007w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}""", new byte[4]);
        var error = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(new MemoryStream(bytes), "m.safetensors"));
        Assert.That(error!.Message, Does.Contain(@"'\x1b]0;owned\x07w'").And.Not.Contain("\u001b"));
    }

    [Test]
    public void ControlCharactersInAnNpyHeader_AreEscapedInMessages()
    {
        var npy = new MemoryStream();
        Npy.Write(npy, NdArray.Create(new float[2]));
        var text = System.Text.Encoding.Latin1.GetString(npy.ToArray()).Replace("'<f4'", "'\u001b[31m'", StringComparison.Ordinal);
        var bytes = System.Text.Encoding.Latin1.GetBytes(text);
        var error = Assert.Throws<NotSupportedException>(() => Npy.Read(new MemoryStream(bytes), "d.npy"));
        Assert.That(error!.Message, Does.Contain(@"'\x1b[31m'").And.Not.Contain("\u001b"));
    }

    [TestCase("fc1.weight", "fc1.weight")]
    [TestCase("\u001b[2J", @"\x1b[2J")]
    [TestCase("a\u0085b\u009bc", @"a\x85b\x9bc")]
    [TestCase("r\u202Eevil", @"r\u202eevil")]
    [TestCase("back\\slash", @"back\\slash")]
    [TestCase("gewicht_ä_重み_😀", "gewicht_ä_重み_😀")]
    public void Printable_EscapesControlAndBidiCharacters_Only(string raw, string shown) =>
        Assert.That(Printable.Escape(raw), Is.EqualTo(shown));

    [Test]
    public void Printable_EscapesLoneSurrogates() =>
        Assert.That(Printable.Escape("lone" + (char)0xD800 + "x" + (char)0xDC00), Is.EqualTo(@"lone\ud800x\udc00"));

    private static int FindLast(byte[] haystack, byte[] needle)
    {
        for (int i = haystack.Length - needle.Length; i >= 0; i--)
        {
            if (haystack.AsSpan(i, needle.Length).SequenceEqual(needle))
                return i;
        }
        throw new InvalidOperationException("needle not found");
    }

    /// <summary>Writes <paramref name="crc"/> as the member's CRC-32 in its local header and the central directory.</summary>
    private static byte[] WithCrc(byte[] zip, uint crc)
    {
        var b = (byte[])zip.Clone();
        for (int i = 0; i + 4 <= b.Length; i++)
        {
            uint sig = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(i));
            if (sig == 0x04034b50)
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(i + 14), crc);
            else if (sig == 0x02014b50)
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(i + 16), crc);
        }
        return b;
    }
}
