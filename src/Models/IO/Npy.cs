using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using WoodFisher.Kernels;

namespace WoodFisher.IO;

/// <summary>The parsed header of a <c>.npy</c> file.</summary>
/// <param name="DType">Element type (little-endian, C order: the only layout read).</param>
/// <param name="Shape">Dimensions, outermost first; empty for a scalar.</param>
/// <param name="MajorVersion">Format major version: 1 (2-byte header length), 2 (4-byte length) or 3 (4-byte length, UTF-8 header).</param>
/// <param name="DataOffset">Bytes from the start of the file (or stream position when the header began) to the first element.</param>
public sealed record NpyHeader(DType DType, long[] Shape, int MajorVersion, long DataOffset)
{
    /// <summary>Number of elements (product of the shape).</summary>
    public long ElementCount => NdArray.ElementCount(Shape, nameof(Shape));
}

/// <summary>
/// NumPy <c>.npy</c> files (format versions 1.0, 2.0 and 3.0; see numpy.lib.format).
/// Reads and writes little-endian <c>&lt;f4 &lt;f8 &lt;f2 &lt;i4 &lt;i8 |b1 |u1</c> in C order. Fortran order and
/// big-endian data are rejected with <see cref="NotSupportedException"/>; corrupt files give
/// <see cref="InvalidDataException"/> naming the file and byte offset.
/// </summary>
public static class Npy
{
    /// <summary>The six magic bytes every .npy file starts with: <c>\x93NUMPY</c>.</summary>
    public static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Headers longer than this are refused (NumPy itself refuses more than 10,000 bytes by default).</summary>
    public const int MaxHeaderLength = 1 << 20;

    /// <summary>Reads a whole .npy file.</summary>
    public static NdArray Read(string path) => Readers.FromFile(path, Read);

    /// <summary>Reads one .npy array from the current position of <paramref name="stream"/>.</summary>
    /// <param name="stream">Positioned at the magic bytes; left just after the data.</param>
    /// <param name="source">Name used in error messages (defaults to the file name of a FileStream).</param>
    public static NdArray Read(Stream stream, string? source = null)
    {
        source = Readers.Source(stream, source);
        var header = ReadHeader(stream, source);
        return StreamIO.ReadArray(stream, header.DType, header.Shape, source, header.DataOffset);
    }

    /// <summary>
    /// Reads a .npy file as float32 (f4 as is; f8 and f2 converted), checking the shape the caller expects.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="expectedShape">Expected dimensions; <c>-1</c> is a wildcard. Null accepts any shape.
    /// E.g. <c>[-1, 784]</c> requires a 2-D array with 784 columns.</param>
    /// <returns>An array whose <see cref="NdArray.DType"/> is <see cref="DType.Float32"/>.</returns>
    /// <exception cref="InvalidDataException">The dtype is not floating point, or the shape differs.</exception>
    public static NdArray ReadFloat32(string path, params long[]? expectedShape) => ReadFloating(path, DType.Float32, expectedShape);

    /// <summary>Reads a .npy file as float64 (any float dtype converted), checking the shape as <see cref="ReadFloat32"/> does.</summary>
    public static NdArray ReadFloat64(string path, params long[]? expectedShape) => ReadFloating(path, DType.Float64, expectedShape);

    private static NdArray ReadFloating(string path, DType want, long[]? expectedShape)
    {
        var array = Read(path);
        if (!array.DType.IsFloatingPoint())
            throw new InvalidDataException($"{path}: expected floating-point data but the file holds {array.DType}");
        CheckShape(path, array.ShapeInt64(), expectedShape);
        if (array.DType == want)
            return array;
        MemoryBudget.Require(MemoryBudget.Product(array.Length, want.ItemSize()), $"{path}: the {want} copy of the array ({string.Join(", ", array.Shape)})");
        return want == DType.Float32 ? NdArray.CreateExact(array.ToFloat32(), array.ShapeInt64()) : NdArray.CreateExact(array.ToFloat64(), array.ShapeInt64());
    }

    internal static void CheckShape(string source, long[] actual, long[]? expected)
    {
        if (expected is null || expected.Length == 0)
            return;
        bool ok = actual.Length == expected.Length;
        for (int i = 0; ok && i < actual.Length; i++)
            ok = expected[i] < 0 || expected[i] == actual[i];
        if (!ok)
        {
            var want = string.Join(", ", expected.Select(e => e < 0 ? "*" : e.ToString(CultureInfo.InvariantCulture)));
            throw new InvalidDataException($"{source}: expected shape ({want}) but the file holds ({string.Join(", ", actual)})");
        }
    }

    /// <summary>Reads and validates the magic, version and header dictionary, leaving the stream at the first data byte.</summary>
    public static NpyHeader ReadHeader(Stream stream, string? source = null)
    {
        source = Readers.Source(stream, source);
        Span<byte> prefix = stackalloc byte[8];
        StreamIO.ReadExactly(stream, prefix, source, 0, "the .npy magic and version");
        if (!prefix[..6].SequenceEqual(Magic))
            throw new InvalidDataException($"{source}: not a .npy file (bad magic at byte 0: expected \\x93NUMPY)");
        int major = prefix[6];
        if (major is not (1 or 2 or 3))
            throw new InvalidDataException($"{source}: unsupported .npy format version {major}.{prefix[7]} at byte 6 (1.0, 2.0 and 3.0 are read)");

        long headerLength;
        int lengthBytes = major == 1 ? 2 : 4;
        Span<byte> len = stackalloc byte[4];
        StreamIO.ReadExactly(stream, len[..lengthBytes], source, 8, "the header length");
        headerLength = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(len) : BinaryPrimitives.ReadUInt32LittleEndian(len);
        long dataOffset = 8 + lengthBytes + headerLength;
        if (headerLength > MaxHeaderLength)
            throw new InvalidDataException($"{source}: header length {headerLength} at byte 8 exceeds the {MaxHeaderLength}-byte limit");
        long remaining = StreamIO.Remaining(stream);
        if (remaining >= 0 && headerLength > remaining)
            throw new InvalidDataException($"{source}: header length {headerLength} at byte 8 runs past the end of the file ({remaining} bytes follow)");

        var raw = new byte[headerLength];
        StreamIO.ReadExactly(stream, raw, source, 8 + lengthBytes, "the header");
        string text;
        try
        {
            text = major == 3 ? new UTF8Encoding(false, true).GetString(raw) : Encoding.Latin1.GetString(raw);
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidDataException($"{source}: version 3.0 header at byte {8 + lengthBytes} is not valid UTF-8");
        }

        var (descr, fortran, shape) = ParseHeaderDict(text, source, 8 + lengthBytes);
        if (fortran)
            throw new NotSupportedException($"{source}: Fortran-order arrays are not supported; save a C-order copy (np.ascontiguousarray(a))");
        var dtype = ParseDescr(descr, source);
        try { _ = checked(NdArray.ElementCount(shape, nameof(shape)) * dtype.ItemSize()); }
        catch (Exception e) when (e is ArgumentException or OverflowException)
        {
            throw new InvalidDataException($"{source}: shape ({string.Join(", ", shape)}) in the header at byte {8 + lengthBytes} overflows a 64-bit byte count");
        }
        return new NpyHeader(dtype, shape, major, dataOffset);
    }

    private static DType ParseDescr(string descr, string source)
    {
        if (descr.Length == 3 && descr[0] == '>' && descr[1..] is not ("b1" or "u1" or "i1"))
            throw new NotSupportedException($"{source}: big-endian dtype '{Printable.Escape(descr)}' is not supported; convert with a.astype(a.dtype.newbyteorder('<'))");
        string body = descr.Length == 3 && descr[0] is '<' or '|' or '=' or '>' ? descr[1..] : descr;
        return body switch
        {
            "f4" => DType.Float32,
            "f8" => DType.Float64,
            "f2" => DType.Float16,
            "i4" => DType.Int32,
            "i8" => DType.Int64,
            "b1" => DType.Bool,
            "u1" => DType.UInt8,
            _ => throw new NotSupportedException($"{source}: dtype '{Printable.Escape(descr)}' is not supported (f4, f8, f2, i4, i8, b1, u1 are)"),
        };
    }

    private static string Descr(DType dtype) => dtype switch
    {
        DType.Float32 => "<f4",
        DType.Float64 => "<f8",
        DType.Float16 => "<f2",
        DType.Int32 => "<i4",
        DType.Int64 => "<i8",
        DType.Bool => "|b1",
        DType.UInt8 => "|u1",
        _ => throw new NotSupportedException($"{dtype} cannot be stored in .npy; convert to float32 first"),
    };

    // A tiny parser for the Python literal NumPy writes: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
    private static (string Descr, bool Fortran, long[] Shape) ParseHeaderDict(string text, string source, long offset)
    {
        var p = new LiteralParser(text, source, offset);
        string? descr = null;
        bool? fortran = null;
        long[]? shape = null;
        p.Expect('{');
        while (!p.TryConsume('}'))
        {
            string key = p.ReadString();
            p.Expect(':');
            switch (key)
            {
                case "descr":
                    if (p.Peek() is not ('\'' or '"'))
                        throw new NotSupportedException($"{source}: structured dtypes are not supported");
                    descr = p.ReadString();
                    break;
                case "fortran_order": fortran = p.ReadBool(); break;
                case "shape": shape = p.ReadTuple(); break;
                default: throw p.Error($"unexpected header key '{Printable.Escape(key)}'");
            }
            if (!p.TryConsume(','))
            {
                p.Expect('}');
                break;
            }
        }
        p.ExpectOnlyPadding();
        if (descr is null || fortran is null || shape is null)
            throw new InvalidDataException($"{source}: header at byte {offset} lacks one of 'descr', 'fortran_order', 'shape'");
        return (descr, fortran.Value, shape);
    }

    private sealed class LiteralParser(string text, string source, long offset)
    {
        private int _pos;

        public InvalidDataException Error(string what) =>
            new($"{source}: malformed .npy header at byte {offset + _pos}: {what}");

        private void SkipSpace()
        {
            while (_pos < text.Length && text[_pos] is ' ' or '\t' or '\n' or '\r')
                _pos++;
        }

        public char Peek()
        {
            SkipSpace();
            return _pos < text.Length ? text[_pos] : '\0';
        }

        public bool TryConsume(char c)
        {
            if (Peek() != c)
                return false;
            _pos++;
            return true;
        }

        public void Expect(char c)
        {
            if (!TryConsume(c))
                throw Error($"expected '{c}'");
        }

        public void ExpectOnlyPadding()
        {
            SkipSpace();
            if (_pos != text.Length)
                throw Error("unexpected text after the header dictionary");
        }

        public string ReadString()
        {
            char q = Peek();
            if (q is not ('\'' or '"'))
                throw Error("expected a quoted string");
            int end = text.IndexOf(q, _pos + 1);
            if (end < 0)
                throw Error("unterminated string");
            var s = text[(_pos + 1)..end];
            _pos = end + 1;
            return s;
        }

        public bool ReadBool()
        {
            Peek();
            if (text.AsSpan(_pos).StartsWith("True", StringComparison.Ordinal)) { _pos += 4; return true; }
            if (text.AsSpan(_pos).StartsWith("False", StringComparison.Ordinal)) { _pos += 5; return false; }
            throw Error("expected True or False");
        }

        public long[] ReadTuple()
        {
            Expect('(');
            var dims = new List<long>();
            while (!TryConsume(')'))
            {
                Peek();
                int start = _pos;
                while (_pos < text.Length && char.IsAsciiDigit(text[_pos]))
                    _pos++;
                if (_pos == start)
                    throw Error("expected a non-negative integer dimension");
                if (!long.TryParse(text.AsSpan(start, _pos - start), NumberStyles.None, CultureInfo.InvariantCulture, out long d))
                    throw Error("dimension overflows 64 bits");
                if (_pos < text.Length && text[_pos] == 'L')
                    _pos++;
                dims.Add(d);
                if (dims.Count > 64)
                    throw Error("more than 64 dimensions");
                if (!TryConsume(','))
                {
                    Expect(')');
                    break;
                }
            }
            return [.. dims];
        }
    }

    /// <summary>Writes <paramref name="array"/> to <paramref name="path"/> atomically (temp file + rename).</summary>
    /// <param name="path">Target file; replaced if present.</param>
    /// <param name="array">Any dtype except <see cref="DType.BFloat16"/>.</param>
    /// <param name="version">Format version 1, 2 or 3; 0 picks the oldest that fits (1.0 unless the header exceeds 65,535 bytes).</param>
    public static void Write(string path, NdArray array, int version = 0) =>
        AtomicFile.Write(path, s => Write(s, array, version));

    /// <summary>Writes one .npy array at the current position of <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, NdArray array, int version = 0)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(array);
        if (version is < 0 or > 3)
            throw new ArgumentOutOfRangeException(nameof(version), version, ".npy format version must be 0 (auto), 1, 2 or 3");
        var dims = array.Shape.Select(d => d.ToString(CultureInfo.InvariantCulture)).ToArray();
        string shape = dims.Length == 1 ? $"({dims[0]},)" : $"({string.Join(", ", dims)})";
        string dict = $"{{'descr': '{Descr(array.DType)}', 'fortran_order': False, 'shape': {shape}, }}";
        if (version == 0)
            version = dict.Length + 11 > ushort.MaxValue ? 2 : 1;
        int lengthBytes = version == 1 ? 2 : 4;
        int unpadded = 8 + lengthBytes + dict.Length + 1;
        int total = (unpadded + 63) / 64 * 64;
        int headerLength = total - 8 - lengthBytes;
        if (version == 1 && headerLength > ushort.MaxValue)
            throw new ArgumentException("header too long for .npy version 1.0; use version 2", nameof(version));

        var header = new byte[total];
        Magic.CopyTo(header);
        header[6] = (byte)version;
        header[7] = 0;
        if (version == 1)
            BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), (ushort)headerLength);
        else
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), (uint)headerLength);
        int at = 8 + lengthBytes;
        at += Encoding.ASCII.GetBytes(dict, header.AsSpan(at));
        header.AsSpan(at, total - 1 - at).Fill((byte)' ');
        header[total - 1] = (byte)'\n';
        stream.Write(header);
        stream.Write(array.AsBytes());
    }

    /// <summary>Writes float32 data of the given shape (1-D when omitted) atomically.</summary>
    public static void Write(string path, ReadOnlySpan<float> data, params long[] shape) => Write(path, NdArray.FromSpan(data, shape));

    /// <summary>Writes float64 data of the given shape (1-D when omitted) atomically.</summary>
    public static void Write(string path, ReadOnlySpan<double> data, params long[] shape) => Write(path, NdArray.FromSpan(data, shape));

    /// <summary>Writes int32 data of the given shape (1-D when omitted) atomically.</summary>
    public static void Write(string path, ReadOnlySpan<int> data, params long[] shape) => Write(path, NdArray.FromSpan(data, shape));

    /// <summary>Writes int64 data of the given shape (1-D when omitted) atomically.</summary>
    public static void Write(string path, ReadOnlySpan<long> data, params long[] shape) => Write(path, NdArray.FromSpan(data, shape));

    /// <summary>Writes bool data (<c>|b1</c>, e.g. a pruning mask) of the given shape (1-D when omitted) atomically.</summary>
    public static void Write(string path, ReadOnlySpan<bool> data, params long[] shape) => Write(path, NdArray.FromSpan(data, shape));

    /// <summary>Writes uint8 data of the given shape (1-D when omitted) atomically.</summary>
    public static void Write(string path, ReadOnlySpan<byte> data, params long[] shape) => Write(path, NdArray.FromSpan(data, shape));
}
