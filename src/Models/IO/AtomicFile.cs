namespace WoodFisher.IO;

/// <summary>
/// Writes files all-or-nothing: the content goes to a temporary file in the target's directory, which is
/// flushed and then renamed over the target (<see cref="File.Move(string, string, bool)"/> with overwrite).
/// A failure part-way leaves the old file (or no file) and no partial output.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/>; creates missing parent directories.</summary>
    /// <param name="path">Target file.</param>
    /// <param name="write">Writes the whole content to the given stream (do not dispose it).</param>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        using var writer = Open(path);
        write(writer.Stream);
        writer.Commit();
    }

    /// <summary>Writes text (UTF-8, no BOM) atomically.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, s =>
        {
            using var w = new StreamWriter(s, new System.Text.UTF8Encoding(false), 1 << 16, leaveOpen: true);
            w.Write(text);
        });

    /// <summary>Writes bytes atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        using var writer = Open(path);
        writer.Stream.Write(bytes);
        writer.Commit();
    }

    /// <summary>
    /// Opens a temporary file next to <paramref name="path"/>. Write to <see cref="AtomicFileWriter.Stream"/>,
    /// then call <see cref="AtomicFileWriter.Commit"/>; disposing without committing deletes the temporary file.
    /// </summary>
    public static AtomicFileWriter Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new AtomicFileWriter(Path.GetFullPath(path));
    }
}

/// <summary>A pending atomic write (see <see cref="AtomicFile.Open"/>).</summary>
public sealed class AtomicFileWriter : IDisposable
{
    private readonly string _target;
    private readonly string _temp;
    private readonly FileStream _stream;
    private bool _committed;

    internal AtomicFileWriter(string target)
    {
        _target = target;
        var dir = Path.GetDirectoryName(target) ?? ".";
        Directory.CreateDirectory(dir);
        _temp = Path.Combine(dir, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        _stream = new FileStream(_temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
    }

    /// <summary>The temporary file's stream.</summary>
    public Stream Stream => _stream;

    /// <summary>The final path.</summary>
    public string TargetPath => _target;

    /// <summary>Flushes to disk and renames the temporary file over the target.</summary>
    public void Commit()
    {
        ObjectDisposedException.ThrowIf(_committed, this);
        _stream.Flush(flushToDisk: true);
        _stream.Dispose();
        File.Move(_temp, _target, overwrite: true);
        _committed = true;
    }

    /// <summary>Deletes the temporary file unless <see cref="Commit"/> ran.</summary>
    public void Dispose()
    {
        if (_committed)
            return;
        _stream.Dispose();
        try { File.Delete(_temp); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        _committed = true;
    }
}
