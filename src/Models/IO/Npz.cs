using System.IO.Compression;

namespace WoodFisher.IO;

/// <summary>
/// NumPy <c>.npz</c> archives: a zip of <c>.npy</c> members, stored (<c>np.savez</c>) or deflated
/// (<c>np.savez_compressed</c>). Member <c>w.npy</c> is the array named <c>w</c>.
/// </summary>
public static class Npz
{
    /// <summary>Reads every member, in archive order.</summary>
    public static IReadOnlyList<NamedArray> Read(string path)
    {
        using var stream = File.OpenRead(path);
        return Read(stream, path);
    }

    /// <summary>Reads every member of an archive held in <paramref name="stream"/> (seekable).</summary>
    public static IReadOnlyList<NamedArray> Read(Stream stream, string? source = null)
    {
        source = StreamIO.SourceName(stream, source);
        using var zip = OpenArchive(stream, source);
        var result = new List<NamedArray>();
        foreach (var entry in zip.Entries)
        {
            if (entry.FullName.EndsWith('/'))
                continue;
            result.Add(new NamedArray(ArrayName(entry.FullName), ReadEntry(entry, source)));
        }
        return result;
    }

    /// <summary>Reads one member by array name (<c>"w"</c> or <c>"w.npy"</c>).</summary>
    /// <exception cref="KeyNotFoundException">No such member; the message lists those present.</exception>
    public static NdArray Read(string path, string name)
    {
        using var stream = File.OpenRead(path);
        using var zip = OpenArchive(stream, path);
        var entry = zip.GetEntry(MemberName(name)) ?? zip.GetEntry(name)
            ?? throw new KeyNotFoundException($"{path}: no array '{name}' (present: {string.Join(", ", zip.Entries.Select(e => ArrayName(e.FullName)))})");
        return ReadEntry(entry, path);
    }

    /// <summary>The array names in the archive, in order.</summary>
    public static IReadOnlyList<string> List(string path)
    {
        using var stream = File.OpenRead(path);
        using var zip = OpenArchive(stream, path);
        return zip.Entries.Where(e => !e.FullName.EndsWith('/')).Select(e => ArrayName(e.FullName)).ToList();
    }

    /// <summary>Writes the arrays to <paramref name="path"/> atomically.</summary>
    /// <param name="path">Target file.</param>
    /// <param name="arrays">Names must be unique; <c>.npy</c> is appended when missing.</param>
    /// <param name="compress">Deflate members (like <c>np.savez_compressed</c>) instead of storing them.</param>
    public static void Write(string path, IEnumerable<NamedArray> arrays, bool compress = false) =>
        AtomicFile.Write(path, s => Write(s, arrays, compress));

    /// <summary>Writes the arrays as a zip archive to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, IEnumerable<NamedArray> arrays, bool compress = false)
    {
        ArgumentNullException.ThrowIfNull(arrays);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
        foreach (var (name, array) in arrays)
        {
            ArgumentException.ThrowIfNullOrEmpty(name, nameof(arrays));
            var member = MemberName(name);
            if (!seen.Add(member))
                throw new ArgumentException($"duplicate array name '{name}'", nameof(arrays));
            var entry = zip.CreateEntry(member, compress ? CompressionLevel.Optimal : CompressionLevel.NoCompression);
            entry.LastWriteTime = new DateTimeOffset(1980, 1, 1, 0, 0, 0, TimeSpan.Zero);
            using var s = entry.Open();
            Npy.Write(s, array);
        }
    }

    /// <summary>Writes named arrays given as pairs.</summary>
    public static void Write(string path, bool compress, params (string Name, NdArray Array)[] arrays) =>
        Write(path, arrays.Select(a => new NamedArray(a.Name, a.Array)), compress);

    private static string MemberName(string name) => name.EndsWith(".npy", StringComparison.Ordinal) ? name : name + ".npy";

    private static string ArrayName(string member) => member.EndsWith(".npy", StringComparison.Ordinal) ? member[..^4] : member;

    private static ZipArchive OpenArchive(Stream stream, string source)
    {
        try
        {
            return new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"{source}: not a valid .npz (zip) archive: {ex.Message}", ex);
        }
    }

    private static NdArray ReadEntry(ZipArchiveEntry entry, string source)
    {
        string where = $"{source}[{entry.FullName}]";
        try
        {
            using var s = entry.Open();
            var array = Npy.Read(s, where);
            return array;
        }
        catch (InvalidDataException ex) when (!ex.Message.StartsWith(where, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{where}: corrupt member: {ex.Message}", ex);
        }
    }
}
