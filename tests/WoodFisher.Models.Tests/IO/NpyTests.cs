using System.Buffers.Binary;
using System.Text;
using WoodFisher.IO;

namespace WoodFisher.Models.Tests.IO;

public class NpyTests
{
    private static NdArray Sample(DType dtype, long[] shape)
    {
        var rng = new Random(1234);
        int n = (int)shape.Aggregate(1L, (a, b) => a * b);
        return dtype switch
        {
            DType.Float32 => NdArray.Create(Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).Append(float.NaN).Take(n).ToArray(), shape),
            DType.Float64 => NdArray.Create(Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 1e10 - 5e9).ToArray(), shape),
            DType.Float16 => NdArray.Create(Enumerable.Range(0, n).Select(_ => (Half)rng.NextSingle()).ToArray(), shape),
            DType.Int32 => NdArray.Create(Enumerable.Range(0, n).Select(_ => rng.Next(int.MinValue, int.MaxValue)).ToArray(), shape),
            DType.Int64 => NdArray.Create(Enumerable.Range(0, n).Select(_ => rng.NextInt64(long.MinValue, long.MaxValue)).ToArray(), shape),
            DType.Bool => NdArray.Create(Enumerable.Range(0, n).Select(_ => rng.Next(2) == 1).ToArray(), shape),
            DType.UInt8 => NdArray.Create(Enumerable.Range(0, n).Select(_ => (byte)rng.Next(256)).ToArray(), shape),
            _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
        };
    }

    private static IEnumerable<TestCaseData> RoundTripCases()
    {
        foreach (var dtype in new[] { DType.Float32, DType.Float64, DType.Float16, DType.Int32, DType.Int64, DType.Bool, DType.UInt8 })
            foreach (var version in new[] { 1, 2, 3 })
                yield return new TestCaseData(dtype, version).SetName($"Npy_RoundTrip_IsBitExact_{dtype}_v{version}");
    }

    [TestCaseSource(nameof(RoundTripCases))]
    public void Npy_RoundTrip_IsBitExact(DType dtype, int version)
    {
        using var dir = new TempDir();
        var a = Sample(dtype, [3, 5, 2]);
        var path = dir.File("a.npy");
        Npy.Write(path, a, version);
        Assert.That(File.ReadAllBytes(path)[6], Is.EqualTo(version));
        var b = Npy.Read(path);
        Assert.Multiple(() =>
        {
            Assert.That(b.DType, Is.EqualTo(dtype));
            Assert.That(b.Shape, Is.EqualTo(new long[] { 3, 5, 2 }));
            Assert.That(b.AsBytes().ToArray(), Is.EqualTo(a.AsBytes().ToArray()));
        });
    }

    [Test]
    public void Npy_HeaderIsPaddedTo64Bytes_AndEndsWithNewline()
    {
        using var dir = new TempDir();
        var path = dir.File("a.npy");
        Npy.Write(path, new float[] { 1, 2, 3 });
        var bytes = File.ReadAllBytes(path);
        int headerLen = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
        Assert.Multiple(() =>
        {
            Assert.That((10 + headerLen) % 64, Is.Zero);
            Assert.That(bytes[10 + headerLen - 1], Is.EqualTo((byte)'\n'));
            Assert.That(bytes.Length, Is.EqualTo(10 + headerLen + 12));
            Assert.That(Encoding.ASCII.GetString(bytes, 10, headerLen), Does.Contain("'shape': (3,)"));
        });
    }

    [Test]
    public void Npy_ScalarAndEmptyArrays_RoundTrip()
    {
        using var dir = new TempDir();
        Npy.Write(dir.File("s.npy"), NdArray.Scalar(2.5));
        Npy.Write(dir.File("e.npy"), NdArray.Create(Array.Empty<float>(), 0, 7));
        var s = Npy.Read(dir.File("s.npy"));
        var e = Npy.Read(dir.File("e.npy"));
        Assert.Multiple(() =>
        {
            Assert.That(s.Rank, Is.Zero);
            Assert.That(s.GetData<double>(), Is.EqualTo(new[] { 2.5 }));
            Assert.That(Npy.ReadFloat32(dir.File("s.npy")).Rank, Is.Zero, "conversion keeps a scalar 0-D");
            Assert.That(e.Shape, Is.EqualTo(new long[] { 0, 7 }));
            Assert.That(e.Length, Is.Zero);
        });
    }

    /// <summary>Builds a .npy file by hand from the format spec (numpy.lib.format).</summary>
    internal static byte[] HandMade(int major, string dict, byte[] data, bool pad = true)
    {
        int lenBytes = major == 1 ? 2 : 4;
        var enc = major == 3 ? Encoding.UTF8 : Encoding.Latin1;
        var header = enc.GetBytes(dict);
        int total = 8 + lenBytes + header.Length + 1;
        if (pad)
            total = (total + 63) / 64 * 64;
        int hlen = total - 8 - lenBytes;
        var ms = new MemoryStream();
        ms.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)major, 0]);
        var len = new byte[lenBytes];
        if (major == 1)
            BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)hlen);
        else
            BinaryPrimitives.WriteUInt32LittleEndian(len, (uint)hlen);
        ms.Write(len);
        ms.Write(header);
        for (int i = header.Length; i < hlen - 1; i++)
            ms.WriteByte((byte)' ');
        ms.WriteByte((byte)'\n');
        ms.Write(data);
        return ms.ToArray();
    }

    private static byte[] LeDoubles(params double[] v)
    {
        var b = new byte[v.Length * 8];
        for (int i = 0; i < v.Length; i++)
            BinaryPrimitives.WriteDoubleLittleEndian(b.AsSpan(8 * i), v[i]);
        return b;
    }

    [Test]
    public void Npy_HandMadeV1Header_IsRead()
    {
        var bytes = HandMade(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", LeDoubles(1, 2, 3, 4));
        var a = Npy.Read(new MemoryStream(bytes), "v1");
        Assert.That(a.GetData<double>(), Is.EqualTo(new double[] { 1, 2, 3, 4 }));
        Assert.That(a.Shape, Is.EqualTo(new long[] { 2, 2 }));
    }

    [Test]
    public void Npy_HandMadeV2Header_WithFourByteLength_IsRead()
    {
        // Keys in another order, double quotes, no trailing comma, unpadded: all legal Python literals.
        var bytes = HandMade(2, "{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"<f8\"}", LeDoubles(-1, 0.5, 7), pad: false);
        var a = Npy.Read(new MemoryStream(bytes), "v2");
        Assert.That(a.GetData<double>(), Is.EqualTo(new[] { -1, 0.5, 7 }));
    }

    [Test]
    public void Npy_HandMadeV3Header_WithUtf8Text_IsRead()
    {
        // Version 3.0 exists for UTF-8 headers; a non-ASCII character in the padding-area whitespace is not allowed,
        // but a header with a UTF-8 byte-order-free dict and a Python-2 style 'L' suffix must still parse.
        var bytes = HandMade(3, "{'descr': '|u1', 'fortran_order': False, 'shape': (2L, 1L), }", [7, 9]);
        var a = Npy.Read(new MemoryStream(bytes), "v3");
        Assert.That(a.GetData<byte>(), Is.EqualTo(new byte[] { 7, 9 }));
        Assert.That(a.Shape, Is.EqualTo(new long[] { 2, 1 }));
    }

    [Test]
    public void Npy_V3HeaderWithInvalidUtf8_IsRejected()
    {
        var bytes = HandMade(3, "{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }", [7]);
        bytes[12] = 0xff;
        var ex = Assert.Throws<InvalidDataException>(() => Npy.Read(new MemoryStream(bytes), "bad.npy"));
        Assert.That(ex!.Message, Does.Contain("bad.npy").And.Contain("UTF-8"));
    }

    [Test]
    public void Npy_FortranOrder_IsRejectedWithAdvice()
    {
        var bytes = HandMade(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", LeDoubles(1, 2, 3, 4));
        var ex = Assert.Throws<NotSupportedException>(() => Npy.Read(new MemoryStream(bytes), "f.npy"));
        Assert.That(ex!.Message, Does.Contain("Fortran").And.Contain("ascontiguousarray"));
    }

    [Test]
    public void Npy_BigEndian_IsRejected()
    {
        var bytes = HandMade(1, "{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }", LeDoubles(1));
        var ex = Assert.Throws<NotSupportedException>(() => Npy.Read(new MemoryStream(bytes), "be.npy"));
        Assert.That(ex!.Message, Does.Contain("big-endian"));
    }

    [TestCase("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", TestName = "Npy_UnsupportedDType_IsRejected")]
    [TestCase("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", TestName = "Npy_StructuredDType_IsRejected")]
    public void Npy_Unsupported_IsRejected(string dict)
    {
        var bytes = HandMade(1, dict, new byte[8]);
        Assert.Throws<NotSupportedException>(() => Npy.Read(new MemoryStream(bytes), "x.npy"));
    }

    [TestCase("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,), }", TestName = "Npy_DimensionOverflowing64Bits_IsInvalid")]
    [TestCase("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", TestName = "Npy_ShapeWhoseProductOverflows_IsInvalid")]
    [TestCase("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000,), }", TestName = "Npy_ShapeLargerThanFile_IsInvalid")]
    [TestCase("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", TestName = "Npy_NegativeDimension_IsInvalid")]
    [TestCase("{'descr': '<f8', 'fortran_order': False, }", TestName = "Npy_MissingShapeKey_IsInvalid")]
    [TestCase("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'extra': 1}", TestName = "Npy_UnknownKey_IsInvalid")]
    [TestCase("{'descr': '<f8', 'fortran_order': Maybe, 'shape': (1,), }", TestName = "Npy_BadBoolLiteral_IsInvalid")]
    [TestCase("{'descr': '<f8', 'fortran_order': False, 'shape': (1,) garbage", TestName = "Npy_UnterminatedDict_IsInvalid")]
    public void Npy_CorruptHeader_IsInvalidData(string dict)
    {
        var bytes = HandMade(1, dict, LeDoubles(1, 2));
        var ex = Assert.Throws<InvalidDataException>(() => Npy.Read(new MemoryStream(bytes), "corrupt.npy"));
        Assert.That(ex!.Message, Does.StartWith("corrupt.npy:"));
    }

    [Test]
    public void Npy_WrongMagic_IsInvalidData_AtByteZero()
    {
        var bytes = HandMade(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", LeDoubles(1));
        bytes[1] = (byte)'X';
        var ex = Assert.Throws<InvalidDataException>(() => Npy.Read(new MemoryStream(bytes), "m.npy"));
        Assert.That(ex!.Message, Does.Contain("magic").And.Contain("byte 0"));
    }

    [Test]
    public void Npy_UnknownVersion_IsInvalidData()
    {
        var bytes = HandMade(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", LeDoubles(1));
        bytes[6] = 9;
        Assert.Throws<InvalidDataException>(() => Npy.Read(new MemoryStream(bytes), "v.npy"));
    }

    [Test]
    public void Npy_TruncatedAtEveryByte_IsInvalidData_NeverAnotherException()
    {
        var full = HandMade(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", LeDoubles(1, 2));
        for (int n = 0; n < full.Length; n++)
        {
            var cut = full.AsSpan(0, n).ToArray();
            Assert.Throws<InvalidDataException>(() => Npy.Read(new MemoryStream(cut), "t.npy"), $"cut at {n}");
            // Non-seekable streams (npz members) must also detect truncation without trusting the header.
            Assert.Throws<InvalidDataException>(() => Npy.Read(new NonSeekable(cut), "t.npy"), $"non-seekable cut at {n}");
        }
    }

    [Test]
    public void Npy_HugeDeclaredShapeOnNonSeekableStream_FailsWithoutHugeAllocation()
    {
        // 2^28 doubles = 2 GiB declared, 16 bytes present: must fail on the missing bytes, not allocate 2 GiB up front.
        var bytes = HandMade(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (268435455,), }", LeDoubles(1, 2));
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<InvalidDataException>(() => Npy.Read(new NonSeekable(bytes), "huge.npy"));
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(200L << 20));
    }

    [Test]
    public void Npy_HeaderLengthBeyondFile_IsInvalidData()
    {
        var bytes = HandMade(2, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", LeDoubles(1));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), 0x7fff_ffff);
        var ex = Assert.Throws<InvalidDataException>(() => Npy.Read(new MemoryStream(bytes), "h.npy"));
        Assert.That(ex!.Message, Does.Contain("byte 8"));
    }

    [Test]
    public void Npy_ReadFloat32_ConvertsFloat64_AndChecksShape()
    {
        using var dir = new TempDir();
        var path = dir.File("g.npy");
        Npy.Write(path, new double[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        var a = Npy.ReadFloat32(path, -1, 3);
        Assert.That(a.DType, Is.EqualTo(DType.Float32));
        Assert.That(a.GetData<float>(), Is.EqualTo(new float[] { 1, 2, 3, 4, 5, 6 }));
        var ex = Assert.Throws<InvalidDataException>(() => Npy.ReadFloat32(path, -1, 4));
        Assert.That(ex!.Message, Does.Contain(path).And.Contain("(*, 4)").And.Contain("(2, 3)"));
        Assert.Throws<InvalidDataException>(() => Npy.ReadFloat32(path, 6));
    }

    [Test]
    public void Npy_ReadFloat32_RejectsIntegerData()
    {
        using var dir = new TempDir();
        var path = dir.File("i.npy");
        Npy.Write(path, new[] { 1, 2 });
        var ex = Assert.Throws<InvalidDataException>(() => Npy.ReadFloat32(path));
        Assert.That(ex!.Message, Does.Contain("Int32"));
    }

    [Test]
    public void Npy_ConvenienceWriters_WriteEachDType()
    {
        using var dir = new TempDir();
        Npy.Write(dir.File("f.npy"), new float[] { 1.5f });
        Npy.Write(dir.File("d.npy"), new double[] { 1.5 });
        Npy.Write(dir.File("i.npy"), new int[] { -3 });
        Npy.Write(dir.File("l.npy"), new long[] { long.MaxValue });
        Npy.Write(dir.File("b.npy"), new bool[] { true, false });
        Npy.Write(dir.File("u.npy"), new byte[] { 255 });
        Assert.Multiple(() =>
        {
            Assert.That(Npy.Read(dir.File("f.npy")).DType, Is.EqualTo(DType.Float32));
            Assert.That(Npy.Read(dir.File("d.npy")).DType, Is.EqualTo(DType.Float64));
            Assert.That(Npy.Read(dir.File("i.npy")).GetData<int>(), Is.EqualTo(new[] { -3 }));
            Assert.That(Npy.Read(dir.File("l.npy")).GetData<long>(), Is.EqualTo(new[] { long.MaxValue }));
            Assert.That(Npy.Read(dir.File("b.npy")).GetData<bool>(), Is.EqualTo(new[] { true, false }));
            Assert.That(Npy.Read(dir.File("u.npy")).GetData<byte>(), Is.EqualTo(new byte[] { 255 }));
        });
    }

    [Test]
    public void Npy_BoolBytesOtherThanOne_ReadAsTrue()
    {
        var bytes = HandMade(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", [0, 1, 7]);
        var a = Npy.Read(new MemoryStream(bytes), "b.npy");
        Assert.That(a.GetData<bool>(), Is.EqualTo(new[] { false, true, true }));
        Assert.That(a.AsBytes().ToArray(), Is.EqualTo(new byte[] { 0, 1, 1 }));
    }

    [Test]
    public void NdArray_TypedAccessors_ConvertAndGuardTheElementType()
    {
        var a = NdArray.Create(new[] { 1, -2, 3 }, 3);
        Assert.Multiple(() =>
        {
            Assert.That(a.ToFloat32(), Is.EqualTo(new float[] { 1, -2, 3 }));
            Assert.That(a.ToFloat64(), Is.EqualTo(new double[] { 1, -2, 3 }));
            Assert.That(a.AsSpan<int>()[1], Is.EqualTo(-2));
            Assert.Throws<InvalidOperationException>(() => a.GetData<float>());
            Assert.Throws<ArgumentException>(() => NdArray.Create(new float[5], 2, 3));
            Assert.That(a.ShapeInt32(), Is.EqualTo(new[] { 3 }));
        });
    }

    internal sealed class NonSeekable(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    }
}
