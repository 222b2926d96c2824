namespace WoodFisher.Cli.Infrastructure;

/// <summary>Saves ScottPlot figures as PNG atomically (temporary file in the same directory, then rename).</summary>
internal static class PlotFiles
{
    public static void SavePng(ScottPlot.Plot plot, string path, int width, int height)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileNameWithoutExtension(full)}.{Guid.NewGuid():N}.tmp.png");
        try
        {
            plot.SavePng(tmp, width, height);
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp))
                File.Delete(tmp);
        }
    }

    /// <summary>Reads width and height from a PNG's IHDR chunk; throws <see cref="InvalidDataException"/> when it is not a PNG.</summary>
    public static (int Width, int Height) PngSize(string path)
    {
        Span<byte> head = stackalloc byte[24];
        using (var f = File.OpenRead(path))
        {
            if (f.ReadAtLeast(head, 24, throwOnEndOfStream: false) < 24)
                throw new InvalidDataException($"{path}: too short for a PNG");
        }
        ReadOnlySpan<byte> magic = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        if (!head[..8].SequenceEqual(magic) || !head.Slice(12, 4).SequenceEqual("IHDR"u8))
            throw new InvalidDataException($"{path}: not a PNG (bad magic or no IHDR at byte 12)");
        return (System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(head.Slice(16, 4)), System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(head.Slice(20, 4)));
    }
}
