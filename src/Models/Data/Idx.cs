using System.Buffers.Binary;
using System.IO.Compression;
using WoodFisher.IO;
using WoodFisher.Kernels;

namespace WoodFisher.Models.Data;

/// <summary>
/// The IDX format of MNIST and Fashion-MNIST: magic <c>00 00 TT NN</c> (TT = element type, NN = number of
/// dimensions), NN big-endian 32-bit dimensions, then the elements big-endian in C order. Images are
/// <c>0x00000803</c> (ubyte, n × rows × cols), labels <c>0x00000801</c> (ubyte, n). Files may be gzip-compressed
/// (detected by the bytes <c>1f 8b</c>, whatever the file name), in one or several members; the file must end with the
/// last member's 8-byte trailer (CRC-32 and size of its data), which is checked, and inflate to exactly the size its
/// header declares.
/// </summary>
public static class Idx
{
    /// <summary>Magic number of an image file (unsigned bytes, 3 dimensions).</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>Magic number of a label file (unsigned bytes, 1 dimension).</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>Reads an IDX file (raw or gzip). Element types ubyte (0x08), int32 (0x0C), float32 (0x0D), float64 (0x0E) are read.</summary>
    public static NdArray Read(string path) => Readers.FromFile(path, Read);

    /// <summary>
    /// Reads an IDX array from <paramref name="stream"/>, decompressing gzip when the stream starts with 1f 8b. Inflation
    /// stops at the size the IDX header declares (data beyond it mean a corrupt file), that size is checked against the
    /// memory budget before anything is allocated, and a missing, cut or mismatched gzip trailer is an
    /// <see cref="InvalidDataException"/>.
    /// </summary>
    public static NdArray Read(Stream stream, string? source = null) => Decode(ReadRaw(stream, Readers.Source(stream, source), null));

    /// <summary>
    /// Reads the IDX array in <paramref name="stream"/> to its end with every check <see cref="Read(Stream, string?)"/>
    /// makes, handing <paramref name="head"/> the first bytes of its data as soon as they have arrived (before the rest is
    /// inflated and the trailer checked); the array itself is not decoded. The rest streams through a window of about a
    /// megabyte instead of being kept: with a running CRC-32 when the trailer at the end of a seekable gzip file records
    /// the whole data's size (one member, as published files are), without a CRC for an uncompressed file. Only a gzip
    /// file whose last member holds part of the data, or one that cannot be sought, is kept whole for its trailer's check.
    /// </summary>
    internal static void ReadThrough(Stream stream, string source, IdxHead head) => ReadRaw(stream, source, head);

    /// <summary>Bytes of the window the rest of a head's file streams through (at least the head itself).</summary>
    private const int Window = 1 << 20;

    private static RawIdx ReadRaw(Stream stream, string source, IdxHead? head)
    {
        var isize = head is null ? null : TrailerSize(stream);
        var peek = new BufferedStream(stream, 1 << 16);
        Span<byte> first = stackalloc byte[2];
        int got = peek.ReadAtLeast(first, 2, throwOnEndOfStream: false);
        if (got == 2 && first[0] == 0x1f && first[1] == 0x8b)
            return ReadGzip(new TailStream(new PrefixStream(first.ToArray(), peek)), source, head, isize);
        return ReadRawBytes(new PrefixStream(first[..got].ToArray(), peek), source, head, head is null ? Rest.Keep : Rest.Stream);
    }

    /// <summary>The ISIZE field of a seekable stream's last 4 bytes (read without moving it), or null.</summary>
    private static uint? TrailerSize(Stream stream)
    {
        if (!stream.CanSeek || stream.Length - stream.Position < 18)
            return null;
        var at = stream.Position;
        Span<byte> size = stackalloc byte[4];
        stream.Position = stream.Length - 4;
        stream.ReadExactly(size);
        stream.Position = at;
        return BinaryPrimitives.ReadUInt32LittleEndian(size);
    }

    /// <summary>What becomes of the data after a head's bytes: kept, streamed through the window, or streamed with a CRC-32.</summary>
    private enum Rest
    {
        Keep,
        Stream,
        StreamWithCrc,
    }

    /// <summary>
    /// Inflates the IDX header and exactly the data it declares, checks that the gzip data end there, then checks the
    /// file's last 8 bytes against the last member's data (RFC 1952 §2.3: CRC-32, then ISIZE = length mod 2³²,
    /// little-endian). GZipStream verifies a trailer that is there but returns end-of-data without complaint when the file
    /// ends inside it, and a file may hold several members, whose last one is the suffix of ISIZE bytes.
    /// </summary>
    private static RawIdx ReadGzip(TailStream compressed, string source, IdxHead? head, uint? isize)
    {
        RawIdx raw;
        using (var gz = new GZipStream(compressed, CompressionMode.Decompress, leaveOpen: true))
        {
            try
            {
                raw = ReadRawBytes(gz, source, head, head is null ? Rest.Keep : Rest.StreamWithCrc, isize);
                Span<byte> probe = stackalloc byte[1];
                if (gz.Read(probe) != 0)
                    throw new InvalidDataException($"{source}: the gzip data continue past the {raw.Header.Length + raw.Length} bytes the IDX header declares: the file is corrupt");
            }
            catch (InvalidDataException ex) when (!ex.Message.StartsWith(source, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"{source}: corrupt gzip data near compressed byte {compressed.BytesRead}: the file is damaged or truncated (download it again)", ex);
            }
        }
        compressed.Drain();
        long end = compressed.BytesRead;
        var trailer = compressed.Tail;
        if (trailer.Length < 8)
            throw new InvalidDataException($"{source}: truncated gzip file: {end} bytes cannot hold the 8-byte trailer");
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(trailer);
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(trailer[4..]);
        long total = raw.Header.Length + (long)raw.Length;
        if (size > total)
            throw new InvalidDataException($"{source}: gzip trailer at byte {end - 8} records {size} bytes of data, but only {total} decompressed: the file is truncated or corrupt");
        uint actual;
        if (raw.Crc is uint whole)
        {
            // Streamed because the file's last 4 bytes recorded the whole size when reading began: they are the trailer's.
            if (size != total)
                throw new InvalidDataException($"{source}: the gzip trailer at byte {end - 8} changed while the file was read");
            actual = whole;
        }
        else
        {
            var data = raw.Data.AsSpan(raw.At, raw.Length);
            long fromHeader = size - (long)data.Length;
            actual = fromHeader > 0
                ? Crc32.Append(Crc32.Compute(raw.Header.AsSpan(raw.Header.Length - (int)fromHeader)), data)
                : Crc32.Compute(data[(data.Length - (int)size)..]);
        }
        if (actual != crc)
            throw new InvalidDataException($"{source}: gzip trailer at byte {end - 8} records CRC-32 {crc:x8}, but the last member's {size} bytes have {actual:x8}: the file is truncated or corrupt");
        return raw;
    }

    /// <summary>
    /// An IDX header and its data bytes (big-endian elements at Data[At..At+Length]); for streamed data, Data is empty and
    /// Crc, when computed, is the CRC-32 of the header and all the data.
    /// </summary>
    private readonly record struct RawIdx(DType DType, long[] Dims, byte[] Header, byte[] Data, int At, int Length, uint? Crc = null);

    private static RawIdx ReadRawBytes(Stream s, string source, IdxHead? head, Rest rest = Rest.Keep, uint? isize = null)
    {
        var magic = new byte[4];
        StreamIO.ReadExactly(s, magic, source, 0, "the IDX magic number");
        if (magic[0] != 0 || magic[1] != 0)
            throw new InvalidDataException($"{source}: not an IDX file (magic {Convert.ToHexString(magic)} at byte 0 should start with 0000)");
        var dtype = magic[2] switch
        {
            0x08 => DType.UInt8,
            0x0C => DType.Int32,
            0x0D => DType.Float32,
            0x0E => DType.Float64,
            _ => throw new NotSupportedException($"{source}: IDX element type 0x{magic[2]:X2} at byte 2 is not supported (0x08, 0x0C, 0x0D, 0x0E are)"),
        };
        int rank = magic[3];
        if (rank is 0 or > 16)
            throw new InvalidDataException($"{source}: IDX rank {rank} at byte 3 is out of range 1..16");
        var header = new byte[4 + 4 * rank];
        magic.CopyTo(header, 0);
        StreamIO.ReadExactly(s, header.AsSpan(4), source, 4, "the IDX dimensions");
        var dims = new long[rank];
        for (int i = 0; i < rank; i++)
            dims[i] = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4 + 4 * i));
        long count = MemoryBudget.Product(dims);
        long bytes = MemoryBudget.Product(count, dtype.ItemSize());
        if (count > Array.MaxLength || bytes > int.MaxValue)
            throw new InvalidDataException($"{source}: IDX dimensions ({string.Join(", ", dims)}) at byte 4 declare {bytes} bytes, more than a single array can hold");
        MemoryBudget.Require(MemoryBudget.Product(bytes, 2), $"{source}: the IDX array ({string.Join(", ", dims)}) of {dtype}");

        long wanted = head is null ? -1 : Math.Min(head.Accept(dtype, dims), bytes);
        if (rest == Rest.StreamWithCrc && isize != (uint)(header.Length + bytes))
            rest = Rest.Keep;
        var streamed = rest != Rest.Keep;

        // Grow the buffer as bytes arrive so a lying header cannot force a huge allocation; streamed data reuse a window
        // that holds the head.
        var data = new byte[(int)Math.Min(bytes, streamed ? Math.Max(wanted, Window) : 16 << 20)];
        uint crc = rest == Rest.StreamWithCrc ? Crc32.Compute(header) : 0;
        long have = 0;
        int held = 0;
        while (true)
        {
            if (wanted >= 0 && have >= wanted)
            {
                head!.Take(data.AsSpan(0, (int)wanted));
                wanted = -1;
            }
            if (have == bytes)
                break;
            if (held == data.Length)
            {
                if (streamed)
                {
                    crc = rest == Rest.StreamWithCrc ? Crc32.Append(crc, data) : 0;
                    held = 0;
                }
                else
                {
                    Array.Resize(ref data, (int)Math.Min(bytes, (long)data.Length * 2));
                }
            }
            int n = s.Read(data, held, (int)Math.Min(data.Length - held, bytes - have));
            if (n == 0)
                throw new InvalidDataException($"{source}: truncated at byte {header.Length + have} while reading IDX data ({bytes} bytes expected)");
            have += n;
            held += n;
        }
        if (!streamed)
            return new RawIdx(dtype, dims, header, data, 0, (int)bytes);
        return new RawIdx(dtype, dims, header, [], 0, (int)bytes, rest == Rest.StreamWithCrc ? Crc32.Append(crc, data.AsSpan(0, held)) : null);
    }

    private static NdArray Decode(RawIdx raw)
    {
        var (dtype, dims, _, data, at, bytes, _) = raw;
        var array = NdArray.Zeros(dtype, dims);
        switch (dtype)
        {
            case DType.UInt8:
                data.AsSpan(at, bytes).CopyTo(array.AsSpan<byte>());
                break;
            case DType.Int32:
                {
                    var d = array.AsSpan<int>();
                    for (int i = 0; i < d.Length; i++) d[i] = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(at + 4 * i));
                    break;
                }
            case DType.Float32:
                {
                    var d = array.AsSpan<float>();
                    for (int i = 0; i < d.Length; i++) d[i] = BinaryPrimitives.ReadSingleBigEndian(data.AsSpan(at + 4 * i));
                    break;
                }
            case DType.Float64:
                {
                    var d = array.AsSpan<double>();
                    for (int i = 0; i < d.Length; i++) d[i] = BinaryPrimitives.ReadDoubleBigEndian(data.AsSpan(at + 8 * i));
                    break;
                }
        }
        return array;
    }

    /// <summary>Reads an image file (magic 0x00000803) as float32 pixels scaled to [0, 1] (pixel / 255), one flattened image per row.</summary>
    /// <returns>Pixels (count × rows·cols, row-major), count, rows and cols.</returns>
    public static (float[] Pixels, int Count, int Rows, int Cols) ReadImages(string path)
    {
        var a = Read(path);
        if (a.DType != DType.UInt8 || a.Rank != 3)
            throw new InvalidDataException($"{path}: expected IDX images (magic 0x00000803: ubyte, 3 dimensions) but found {a.DType} with {a.Rank} dimensions");
        return (ScalePixels(a.AsSpan<byte>()), (int)a.Shape[0], (int)a.Shape[1], (int)a.Shape[2]);
    }

    /// <summary>Reads a label file (magic 0x00000801) as bytes.</summary>
    public static byte[] ReadLabels(string path) => Readers.FromFile(path, ReadLabels);

    internal static byte[] ReadLabels(Stream stream, string source)
    {
        var a = Read(stream, source);
        if (a.DType != DType.UInt8 || a.Rank != 1)
            throw new InvalidDataException($"{source}: expected IDX labels (magic 0x00000801: ubyte, 1 dimension) but found {a.DType} with {a.Rank} dimensions");
        return a.GetData<byte>();
    }

    /// <summary>pixel / 255, rounded as the scalar division rounds it (vector division is correctly rounded too).</summary>
    internal static float[] ScalePixels(ReadOnlySpan<byte> pixels)
    {
        var result = GC.AllocateUninitializedArray<float>(pixels.Length);
        System.Numerics.Tensors.TensorPrimitives.ConvertChecked(pixels, result.AsSpan());
        System.Numerics.Tensors.TensorPrimitives.Divide(result, 255f, result);
        return result;
    }

    /// <summary>Writes an IDX file atomically (gzip-compressed unless <paramref name="gzip"/> is false).</summary>
    /// <param name="path">Target file.</param>
    /// <param name="array">UInt8, Int32, Float32 or Float64, rank 1..255; uint8 rank 3 gives an image file, rank 1 a label file.</param>
    /// <param name="gzip">Compress with gzip (as the published files are).</param>
    public static void Write(string path, NdArray array, bool gzip = true) =>
        AtomicFile.Write(path, s =>
        {
            if (gzip)
            {
                using var gz = new GZipStream(s, CompressionLevel.SmallestSize, leaveOpen: true);
                Write(gz, array);
            }
            else
            {
                Write(s, array);
            }
        });

    /// <summary>Writes an uncompressed IDX array to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, NdArray array)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(array);
        byte type = array.DType switch
        {
            DType.UInt8 => 0x08,
            DType.Int32 => 0x0C,
            DType.Float32 => 0x0D,
            DType.Float64 => 0x0E,
            _ => throw new NotSupportedException($"IDX cannot store {array.DType}"),
        };
        if (array.Rank is 0 or > 255)
            throw new ArgumentException("IDX needs 1 to 255 dimensions", nameof(array));
        var header = new byte[4 + 4 * array.Rank];
        header[2] = type;
        header[3] = (byte)array.Rank;
        for (int i = 0; i < array.Rank; i++)
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4 + 4 * i), checked((uint)array.Shape[i]));
        stream.Write(header);
        if (array.DType == DType.UInt8)
        {
            stream.Write(array.AsBytes());
            return;
        }
        var buf = new byte[array.DType.ItemSize()];
        for (int i = 0; i < array.Length; i++)
        {
            switch (array.DType)
            {
                case DType.Int32: BinaryPrimitives.WriteInt32BigEndian(buf, array.AsSpan<int>()[i]); break;
                case DType.Float32: BinaryPrimitives.WriteSingleBigEndian(buf, array.AsSpan<float>()[i]); break;
                default: BinaryPrimitives.WriteDoubleBigEndian(buf, array.AsSpan<double>()[i]); break;
            }
            stream.Write(buf);
        }
    }

    /// <summary>Passes reads through and remembers the last 8 bytes read and how many were read in all.</summary>
    private sealed class TailStream(Stream inner) : ForwardReadStream
    {
        private readonly byte[] _tail = new byte[8];

        public long BytesRead { get; private set; }
        public ReadOnlySpan<byte> Tail => _tail.AsSpan(8 - (int)Math.Min(8, BytesRead));

        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            var got = buffer[..n];
            if (n >= 8)
            {
                got[^8..].CopyTo(_tail);
            }
            else
            {
                _tail.AsSpan(n).CopyTo(_tail);
                got.CopyTo(_tail.AsSpan(8 - n));
            }
            BytesRead += n;
            return n;
        }

        /// <summary>Reads to the end (bytes the decompressor left unread: trailing data after the last member).</summary>
        public void Drain()
        {
            var buffer = new byte[1 << 16];
            while (Read(buffer) > 0)
            {
            }
        }
    }

    /// <summary>Replays bytes already peeked before continuing with the underlying stream.</summary>
    private sealed class PrefixStream(byte[] prefix, Stream inner) : ForwardReadStream
    {
        private int _at;

        public override int Read(Span<byte> buffer)
        {
            if (_at < prefix.Length)
            {
                int n = Math.Min(buffer.Length, prefix.Length - _at);
                prefix.AsSpan(_at, n).CopyTo(buffer);
                _at += n;
                return n;
            }
            return inner.Read(buffer);
        }
    }
}
