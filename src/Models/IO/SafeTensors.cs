using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using WoodFisher.Kernels;

namespace WoodFisher.IO;

/// <summary>The contents of a safetensors file: named tensors in file order plus the <c>__metadata__</c> strings.</summary>
public sealed class SafeTensorsFile
{
    private readonly Dictionary<string, NdArray> _byName;
    private readonly IReadOnlyDictionary<string, long>? _offsets;

    /// <summary>Creates a file model from tensors (names must be unique), optional metadata and, for a file read from disk, where each tensor's data starts.</summary>
    public SafeTensorsFile(IReadOnlyList<NamedArray> tensors, IReadOnlyDictionary<string, string>? metadata = null, IReadOnlyDictionary<string, long>? dataOffsets = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        Tensors = tensors;
        Metadata = metadata ?? new Dictionary<string, string>();
        _offsets = dataOffsets;
        _byName = new Dictionary<string, NdArray>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            if (!_byName.TryAdd(t.Name, t.Array))
                throw new ArgumentException($"duplicate tensor name '{t.Name}'", nameof(tensors));
        }
    }

    /// <summary>Tensors in the order of their data offsets.</summary>
    public IReadOnlyList<NamedArray> Tensors { get; }

    /// <summary>The free-form <c>__metadata__</c> map (string → string); empty when absent.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The tensor called <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such tensor.</exception>
    public NdArray this[string name] => _byName.TryGetValue(name, out var a) ? a
        : throw new KeyNotFoundException($"no tensor '{Printable.Escape(name)}' (present: {string.Join(", ", _byName.Keys.Select(Printable.Escape))})");

    /// <summary>Whether a tensor called <paramref name="name"/> exists.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The byte offset in the file of the first byte of tensor <paramref name="name"/>'s data, or −1 when not known (not read from a file).</summary>
    public long DataOffset(string name) => _offsets is not null && _offsets.TryGetValue(name, out var o) ? o : -1;
}

/// <summary>
/// The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of UTF-8 JSON
/// mapping each tensor name to <c>{"dtype", "shape", "data_offsets": [begin, end]}</c> (offsets relative to
/// the byte buffer after the header) plus an optional <c>"__metadata__"</c> string map, then the buffer.
/// Reads F32, F64, F16, BF16, I32, I64, BOOL, U8; writes all of these except BF16.
/// Every offset is checked: in range, size = prod(shape)·itemsize, no overlap, buffer covered exactly.
/// </summary>
public static class SafeTensors
{
    /// <summary>Headers larger than this are refused.</summary>
    public const long MaxHeaderLength = 100_000_000;

    /// <summary>Reads a safetensors file.</summary>
    public static SafeTensorsFile Read(string path) => Readers.FromFile(path, Read);

    /// <summary>Reads safetensors content from <paramref name="stream"/> (seekable, positioned at the header length).</summary>
    public static SafeTensorsFile Read(Stream stream, string? source = null)
    {
        source = Readers.Source(stream, source);
        if (!stream.CanSeek)
            throw new ArgumentException("safetensors needs a seekable stream", nameof(stream));
        long fileLength = StreamIO.Remaining(stream);
        Span<byte> lenBytes = stackalloc byte[8];
        StreamIO.ReadExactly(stream, lenBytes, source, 0, "the 8-byte header length");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if ((n > MaxHeaderLength || (long)n > fileLength - 8) && LooksLikePickle(lenBytes))
            throw new InvalidDataException($"{source}: not a safetensors file (looks like a PyTorch pickle; save with safetensors.torch.save_file)");
        if (n > MaxHeaderLength)
            throw new InvalidDataException($"{source}: header length {n} at byte 0 exceeds the {MaxHeaderLength}-byte limit");
        if ((long)n > fileLength - 8)
            throw new InvalidDataException($"{source}: header length {n} at byte 0 runs past the end of the file ({fileLength} bytes)");
        var headerBytes = new byte[n];
        StreamIO.ReadExactly(stream, headerBytes, source, 8, "the JSON header");
        long bufferLength = fileLength - 8 - (long)n;
        var entries = ParseHeader(headerBytes, source, bufferLength, out var metadata);

        long dataStart = 8 + (long)n;
        MemoryBudget.Require(bufferLength, $"{source}: the {entries.Count} tensors");
        var tensors = new List<NamedArray>(entries.Count);
        var offsets = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var e in entries)
        {
            offsets[e.Name] = dataStart + e.Begin;
            if (e.Length > Array.MaxLength || e.End - e.Begin > int.MaxValue)
                throw new InvalidDataException($"{source}: tensor '{Printable.Escape(e.Name)}' is larger than a single .NET array can hold");
            var array = NdArray.FromRaw(e.DType, e.Shape, (int)e.Length);
            StreamIO.ReadExactly(stream, array.AsWritableBytes(), source, dataStart + e.Begin, $"tensor '{Printable.Escape(e.Name)}'");
            array.NormalizeBools();
            tensors.Add(new NamedArray(e.Name, array));
        }
        return new SafeTensorsFile(tensors, metadata, offsets);
    }

    /// <summary>
    /// <c>torch.save</c> writes a zip archive ("PK\x03\x04") or, in the legacy format, a pickle that opens with the PROTO
    /// opcode 0x80 and a protocol number 2 to 5. Read as a header length, either is far past any real header, so the
    /// test runs only once the length has failed.
    /// </summary>
    private static bool LooksLikePickle(ReadOnlySpan<byte> first8) =>
        (first8[0] == 0x80 && first8[1] is >= 2 and <= 5) || first8[..4].SequenceEqual("PK\u0003\u0004"u8);

    private sealed record Entry(string Name, DType DType, long[] Shape, long Length, long Begin, long End);

    private static List<Entry> ParseHeader(byte[] bytes, string source, long bufferLength, out Dictionary<string, string> metadata)
    {
        string json;
        try { json = new UTF8Encoding(false, true).GetString(bytes); }
        catch (DecoderFallbackException) { throw new InvalidDataException($"{source}: header at byte 8 is not valid UTF-8"); }
        if (json.Length == 0 || json[0] != '{')
            throw new InvalidDataException($"{source}: header at byte 8 does not start with '{{'");

        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 8 }); }
        catch (JsonException ex) { throw new InvalidDataException($"{source}: header at byte 8 is not valid JSON: {ex.Message}", ex); }

        metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = new List<Entry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{source}: header is not a JSON object");
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!names.Add(prop.Name))
                    throw new InvalidDataException($"{source}: header names '{Printable.Escape(prop.Name)}' twice");
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object)
                        throw new InvalidDataException($"{source}: __metadata__ must be an object of strings");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw new InvalidDataException($"{source}: __metadata__ value '{Printable.Escape(m.Name)}' is not a string");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                entries.Add(ParseEntry(prop, source));
            }
        }

        entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long expected = 0;
        foreach (var e in entries)
        {
            if (e.Begin != expected)
                throw new InvalidDataException(e.Begin < expected
                    ? $"{source}: tensor '{Printable.Escape(e.Name)}' data [{e.Begin}, {e.End}) overlaps the previous tensor (which ends at {expected})"
                    : $"{source}: gap in the data buffer: bytes [{expected}, {e.Begin}) belong to no tensor");
            if (e.End > bufferLength)
                throw new InvalidDataException($"{source}: tensor '{Printable.Escape(e.Name)}' data [{e.Begin}, {e.End}) runs past the {bufferLength}-byte buffer (truncated file?)");
            expected = e.End;
        }
        if (expected != bufferLength)
            throw new InvalidDataException($"{source}: tensors cover {expected} bytes but the buffer holds {bufferLength}");
        return entries;
    }

    private static Entry ParseEntry(JsonProperty prop, string source)
    {
        string name = prop.Name;
        var v = prop.Value;
        InvalidDataException Bad(string what) => new($"{source}: tensor '{Printable.Escape(name)}': {what}");
        if (v.ValueKind != JsonValueKind.Object)
            throw Bad("entry is not an object");
        if (!v.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw Bad("missing string 'dtype'");
        var dtype = dt.GetString() switch
        {
            "F32" => DType.Float32,
            "F64" => DType.Float64,
            "F16" => DType.Float16,
            "BF16" => DType.BFloat16,
            "I32" => DType.Int32,
            "I64" => DType.Int64,
            "BOOL" => DType.Bool,
            "U8" => DType.UInt8,
            var other => throw new NotSupportedException($"{source}: tensor '{Printable.Escape(name)}': dtype '{Printable.Escape(other)}' is not supported (F32, F64, F16, BF16, I32, I64, BOOL, U8 are)"),
        };
        if (!v.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw Bad("missing array 'shape'");
        var shape = new List<long>();
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0)
                throw Bad("shape entries must be non-negative integers");
            shape.Add(dim);
        }
        if (!v.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw Bad("missing 'data_offsets' [begin, end]");
        if (off[0].ValueKind != JsonValueKind.Number || off[1].ValueKind != JsonValueKind.Number
            || !off[0].TryGetInt64(out long begin) || !off[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw Bad("data_offsets must be integers with 0 <= begin <= end");
        long count, bytes;
        try
        {
            count = NdArray.ElementCount(shape, nameof(shape));
            bytes = checked(count * dtype.ItemSize());
        }
        catch (Exception ex) when (ex is OverflowException or ArgumentException)
        {
            throw Bad("shape overflows a 64-bit byte count");
        }
        if (bytes != end - begin)
            throw Bad($"shape ({string.Join(", ", shape)}) × {dtype.ItemSize()} bytes = {bytes} but data_offsets span {end - begin} bytes");
        return new Entry(name, dtype, [.. shape], count, begin, end);
    }

    /// <summary>Writes tensors (in the given order) and metadata to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, IEnumerable<NamedArray> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        AtomicFile.Write(path, s => Write(s, tensors, metadata));

    /// <summary>Writes a <see cref="SafeTensorsFile"/> to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, SafeTensorsFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        Write(path, file.Tensors, file.Metadata);
    }

    /// <summary>Writes tensors and metadata to <paramref name="stream"/>. The header is padded with spaces to a multiple of 8 bytes.</summary>
    public static void Write(Stream stream, IEnumerable<NamedArray> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (k, val) in metadata)
                    json.WriteString(k, val);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, array) in list)
            {
                ArgumentException.ThrowIfNullOrEmpty(name, nameof(tensors));
                if (name == "__metadata__" || !seen.Add(name))
                    throw new ArgumentException($"tensor name '{name}' is reserved or duplicated", nameof(tensors));
                json.WriteStartObject(name);
                json.WriteString("dtype", DTypeName(array.DType));
                json.WriteStartArray("shape");
                foreach (var d in array.Shape)
                    json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + array.ByteLength);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += array.ByteLength;
            }
            json.WriteEndObject();
        }
        var header = buffer.ToArray();
        int padded = (header.Length + 7) / 8 * 8;
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
        stream.Write(len);
        stream.Write(header);
        for (int i = header.Length; i < padded; i++)
            stream.WriteByte((byte)' ');
        foreach (var t in list)
            stream.Write(t.Array.AsBytes());
    }

    private static string DTypeName(DType dtype) => dtype switch
    {
        DType.Float32 => "F32",
        DType.Float64 => "F64",
        DType.Float16 => "F16",
        DType.Int32 => "I32",
        DType.Int64 => "I64",
        DType.Bool => "BOOL",
        DType.UInt8 => "U8",
        _ => throw new NotSupportedException($"writing {dtype} to safetensors is not supported"),
    };
}
