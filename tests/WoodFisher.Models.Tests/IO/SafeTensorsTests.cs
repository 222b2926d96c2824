using System.Buffers.Binary;
using System.Text;
using WoodFisher.IO;

namespace WoodFisher.Models.Tests.IO;

public class SafeTensorsTests
{
    private static NamedArray[] Tensors() =>
    [
        new("fc1.weight", NdArray.Create(Enumerable.Range(0, 12).Select(i => (float)Math.Sin(i)).ToArray(), 3, 4)),
        new("fc1.bias", NdArray.Create(new double[] { 1e-300, -0.0, double.NaN })),
        new("step", NdArray.Create(new long[] { 42 })),
        new("count", NdArray.Create(new[] { -7, 8 })),
        new("mask", NdArray.Create(new[] { true, false })),
        new("pixels", NdArray.Create(new byte[] { 0, 255, 3 })),
        new("half", NdArray.Create(new[] { (Half)1.5, (Half)(-2) })),
    ];

    [Test]
    public void SafeTensors_RoundTrip_IsBitExact_WithMetadata()
    {
        using var dir = new TempDir();
        var path = dir.File("m.safetensors");
        var meta = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode \"quoted\"" };
        SafeTensors.Write(path, Tensors(), meta);
        var f = SafeTensors.Read(path);
        Assert.That(f.Tensors.Select(t => t.Name), Is.EqualTo(Tensors().Select(t => t.Name)));
        foreach (var orig in Tensors())
        {
            var got = f[orig.Name];
            Assert.That(got.DType, Is.EqualTo(orig.Array.DType), orig.Name);
            Assert.That(got.Shape, Is.EqualTo(orig.Array.Shape), orig.Name);
            Assert.That(got.AsBytes().ToArray(), Is.EqualTo(orig.Array.AsBytes().ToArray()), orig.Name);
        }
        Assert.That(f.Metadata, Is.EquivalentTo(meta));
        var bytes = File.ReadAllBytes(path);
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(bytes) % 8, Is.Zero, "header padded to 8 bytes");
    }

    /// <summary>A file built byte by byte from the published format: u64 LE header length, JSON, buffer.</summary>
    private static byte[] HandMade(string json, byte[] buffer, long? declaredLength = null)
    {
        var header = Encoding.UTF8.GetBytes(json);
        var ms = new MemoryStream();
        var len = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)(declaredLength ?? header.Length));
        ms.Write(len);
        ms.Write(header);
        ms.Write(buffer);
        return ms.ToArray();
    }

    private static byte[] F32(params float[] v)
    {
        var b = new byte[v.Length * 4];
        for (int i = 0; i < v.Length; i++)
            BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(4 * i), v[i]);
        return b;
    }

    [Test]
    public void SafeTensors_HandMadeFile_IsRead_IncludingF16()
    {
        var buf = F32(1, 2, 3).Concat(new byte[] { 0x00, 0x3c, 0x00, 0xc0 }).ToArray(); // F16: 1.0, -2.0
        var json = "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[12,16]},"
                 + "\"a\":{\"dtype\":\"F32\",\"shape\":[1,3],\"data_offsets\":[0,12]}}";
        var f = SafeTensors.Read(new MemoryStream(HandMade(json, buf)), "h.safetensors");
        Assert.Multiple(() =>
        {
            Assert.That(f.Tensors.Select(t => t.Name), Is.EqualTo(new[] { "a", "b" }), "ordered by offset");
            Assert.That(f["a"].ToFloat32(), Is.EqualTo(new float[] { 1, 2, 3 }));
            Assert.That(f["a"].Shape, Is.EqualTo(new long[] { 1, 3 }));
            Assert.That(f["b"].ToFloat32(), Is.EqualTo(new float[] { 1, -2 }));
            Assert.That(f.Metadata["format"], Is.EqualTo("pt"));
        });
    }

    [Test]
    public void SafeTensors_BF16_IsReadAsFloat()
    {
        var json = "{\"x\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}";
        var f = SafeTensors.Read(new MemoryStream(HandMade(json, [0x80, 0x3f, 0x40, 0xc0])), "bf.safetensors"); // 1.0, -3.0
        Assert.That(f["x"].ToFloat32(), Is.EqualTo(new float[] { 1, -3 }));
    }

    private const string A3 = "\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}";

    [TestCase("{" + A3 + "}", 16, TestName = "SafeTensors_BufferLongerThanTensors_IsInvalid")]
    [TestCase("{" + A3 + "}", 8, TestName = "SafeTensors_TensorPastEndOfBuffer_IsInvalid")]
    [TestCase("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,12]}}", 12, TestName = "SafeTensors_SizeNotShapeTimesItemSize_IsInvalid")]
    [TestCase("{" + A3 + ",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, TestName = "SafeTensors_OverlappingTensors_IsInvalid")]
    [TestCase("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, TestName = "SafeTensors_GapInBuffer_IsInvalid")]
    [TestCase("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,12]}}", 12, TestName = "SafeTensors_ShapeOverflow_IsInvalid")]
    [TestCase("{\"a\":{\"dtype\":\"F32\",\"shape\":[-3],\"data_offsets\":[0,12]}}", 12, TestName = "SafeTensors_NegativeDim_IsInvalid")]
    [TestCase("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[12,0]}}", 12, TestName = "SafeTensors_ReversedOffsets_IsInvalid")]
    [TestCase("{\"a\":{\"dtype\":\"F32\",\"shape\":[3]}}", 12, TestName = "SafeTensors_MissingOffsets_IsInvalid")]
    [TestCase("{" + A3 + "," + A3 + "}", 12, TestName = "SafeTensors_DuplicateName_IsInvalid")]
    [TestCase("{" + A3 + ",\"__metadata__\":{\"k\":1}}", 12, TestName = "SafeTensors_NonStringMetadata_IsInvalid")]
    [TestCase("{" + A3, 12, TestName = "SafeTensors_TruncatedJson_IsInvalid")]
    [TestCase("[1,2]", 0, TestName = "SafeTensors_HeaderNotAnObject_IsInvalid")]
    public void SafeTensors_CorruptHeader_IsInvalidData(string json, int bufferBytes)
    {
        var ex = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(new MemoryStream(HandMade(json, new byte[bufferBytes])), "c.safetensors"));
        Assert.That(ex!.Message, Does.StartWith("c.safetensors:"));
    }

    [Test]
    public void SafeTensors_UnknownDType_IsRejected()
    {
        var json = "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}";
        var ex = Assert.Throws<NotSupportedException>(() => SafeTensors.Read(new MemoryStream(HandMade(json, new byte[4])), "u.safetensors"));
        Assert.That(ex!.Message, Does.Contain("F8_E4M3"));
    }

    [Test]
    public void SafeTensors_HeaderLengthBeyondFile_IsInvalid()
    {
        var bytes = HandMade("{}", [], declaredLength: 1000);
        var ex = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(new MemoryStream(bytes), "l.safetensors"));
        Assert.That(ex!.Message, Does.Contain("byte 0").And.Contain("past the end"));
    }

    [Test]
    public void SafeTensors_HeaderLengthOver100MB_IsInvalid()
    {
        var bytes = HandMade("{}", [], declaredLength: 200_000_000);
        var ex = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(new MemoryStream(bytes), "l.safetensors"));
        Assert.That(ex!.Message, Does.Contain("limit"));
    }

    [Test]
    public void SafeTensors_NonUtf8Header_IsInvalid()
    {
        var bytes = HandMade("{\"a\" :{}}", []);
        bytes[8 + 2] = 0xff;
        var ex = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(new MemoryStream(bytes), "n.safetensors"));
        Assert.That(ex!.Message, Does.Contain("UTF-8"));
    }

    [Test]
    public void SafeTensors_TruncatedAtEveryByte_IsInvalidData()
    {
        using var ms = new MemoryStream();
        SafeTensors.Write(ms, Tensors().Take(2));
        var full = ms.ToArray();
        for (int n = 0; n < full.Length; n++)
            Assert.Throws<InvalidDataException>(() => SafeTensors.Read(new MemoryStream(full, 0, n), "t.safetensors"), $"cut at {n}");
    }

    [Test]
    public void SafeTensors_EmptyFile_RoundTrips()
    {
        using var ms = new MemoryStream();
        SafeTensors.Write(ms, []);
        ms.Position = 0;
        var f = SafeTensors.Read(ms, "e");
        Assert.That(f.Tensors, Is.Empty);
    }
}
