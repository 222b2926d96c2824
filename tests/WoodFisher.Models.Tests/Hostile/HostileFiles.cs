using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using WoodFisher.IO;

namespace WoodFisher.Models.Tests.Hostile;

/// <summary>Builders of the hostile files the tests feed to the readers: each one lies in one precise way.</summary>
internal static class HostileFiles
{
    /// <summary>A safetensors file from a JSON header written by hand and raw data bytes.</summary>
    public static byte[] SafeTensors(string json, byte[]? data = null)
    {
        var header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + (data?.Length ?? 0)];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data?.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    /// <summary>A valid .npz of one member <paramref name="name"/> holding <paramref name="array"/>.</summary>
    public static byte[] Npz(string name, NdArray array, bool compress)
    {
        using var ms = new MemoryStream();
        WoodFisher.IO.Npz.Write(ms, [new NamedArray(name, array)], compress);
        return ms.ToArray();
    }

    /// <summary>A zip holding one member with the raw bytes given (not necessarily a valid .npy).</summary>
    public static byte[] Zip(string member, byte[] content, bool compress)
    {
        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            using var s = zip.CreateEntry(member, compress ? CompressionLevel.Optimal : CompressionLevel.NoCompression).Open();
            s.Write(content);
        }
        return ms.ToArray();
    }

    /// <summary>Rewrites the uncompressed size recorded for the (only) member, in its local header and the central directory.</summary>
    public static byte[] WithDeclaredSize(byte[] zip, uint size)
    {
        var b = (byte[])zip.Clone();
        for (int i = 0; i + 4 <= b.Length; i++)
        {
            uint sig = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(i));
            if (sig == 0x04034b50)
                BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(i + 22), size);
            else if (sig == 0x02014b50)
                BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(i + 24), size);
        }
        return b;
    }

    /// <summary>An uncompressed IDX header (big-endian dims) followed by <paramref name="payload"/>.</summary>
    public static byte[] Idx(byte type, uint[] dims, byte[] payload)
    {
        var b = new byte[4 + (4 * dims.Length) + payload.Length];
        b[2] = type;
        b[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++)
            BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(4 + (4 * i)), dims[i]);
        payload.CopyTo(b, 4 + (4 * dims.Length));
        return b;
    }

    public static byte[] Gzip(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true))
            gz.Write(data);
        return ms.ToArray();
    }

    /// <summary>Bytes allocated by this thread while <paramref name="action"/> ran (it may throw; the exception is returned).</summary>
    public static (long Bytes, Exception? Error) Allocated(Action action)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            action();
            return (GC.GetAllocatedBytesForCurrentThread() - before, null);
        }
        catch (Exception ex)
        {
            return (GC.GetAllocatedBytesForCurrentThread() - before, ex);
        }
    }
}
