using System.Runtime.InteropServices;
using WoodFisher.Kernels;

namespace WoodFisher.IO;

/// <summary>Bounded, EOF-checked reads shared by the readers: a lying header must give an InvalidDataException, never an OOM.</summary>
internal static class StreamIO
{
    /// <summary>Beyond this many bytes, payloads of unknown-length streams are read in chunks before the final buffer is allocated.</summary>
    private const int DirectAllocationLimit = 64 << 20;

    public static void ReadExactly(Stream stream, Span<byte> buffer, string source, long offset, string what)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = stream.Read(buffer[total..]);
            if (n == 0)
                throw new InvalidDataException($"{source}: truncated at byte {offset + total} while reading {what} ({buffer.Length} bytes expected, {total} present)");
            total += n;
        }
    }

    /// <summary>Bytes left in a seekable stream, or -1 when unknown.</summary>
    public static long Remaining(Stream stream)
    {
        if (!stream.CanSeek)
            return -1;
        try { return Math.Max(0, stream.Length - stream.Position); }
        catch (NotSupportedException) { return -1; }
    }

    /// <summary>Reads prod(shape) elements of <paramref name="dtype"/> into a new array of the given shape.</summary>
    public static NdArray ReadArray(Stream stream, DType dtype, long[] shape, string source, long offset)
    {
        long count = NdArray.ElementCount(shape, nameof(shape));
        long bytes;
        try { bytes = checked(count * dtype.ItemSize()); }
        catch (OverflowException) { throw new InvalidDataException($"{source}: shape ({string.Join(", ", shape)}) overflows a 64-bit byte count (header at byte {offset})"); }

        long remaining = Remaining(stream);
        if (remaining >= 0 && bytes > remaining)
            throw new InvalidDataException($"{source}: header declares {bytes} data bytes at byte {offset} but only {remaining} are present (truncated file?)");
        if (count > Array.MaxLength || bytes > int.MaxValue)
            throw new InvalidDataException($"{source}: array of {count} elements ({bytes} bytes) is larger than a single .NET array can hold; read it in row chunks (NpyRowReader)");
        MemoryBudget.Require(bytes, $"{source}: the array ({string.Join(", ", shape)}) of {dtype}");

        if (remaining >= 0 || bytes <= DirectAllocationLimit)
        {
            var array = NdArray.FromRaw(dtype, shape, (int)count);
            ReadExactly(stream, array.AsWritableBytes(), source, offset, "array data");
            array.NormalizeBools();
            return array;
        }

        // Unknown length (compressed member): only allocate the full buffer once the bytes have arrived.
        var chunks = new List<byte[]>();
        long got = 0;
        while (got < bytes)
        {
            var chunk = new byte[(int)Math.Min(DirectAllocationLimit, bytes - got)];
            ReadExactly(stream, chunk, source, offset + got, "array data");
            chunks.Add(chunk);
            got += chunk.Length;
        }
        var result = NdArray.FromRaw(dtype, shape, (int)count);
        var dest = result.AsWritableBytes();
        int at = 0;
        foreach (var c in chunks)
        {
            c.CopyTo(dest[at..]);
            at += c.Length;
        }
        result.NormalizeBools();
        return result;
    }

    public static string SourceName(Stream stream, string? source) =>
        source ?? (stream as FileStream)?.Name ?? "<stream>";

    public static Span<byte> Bytes<T>(Span<T> span) where T : unmanaged => MemoryMarshal.AsBytes(span);
}
