namespace WoodFisher.IO;

/// <summary>What every reader does at its two entry points: read a file by path, and name a stream in its errors.</summary>
internal static class Readers
{
    /// <summary>Opens <paramref name="path"/> and reads it with <paramref name="read"/>, errors naming the path.</summary>
    public static TResult FromFile<TResult>(string path, Func<Stream, string, TResult> read)
    {
        using var stream = File.OpenRead(path);
        return read(stream, path);
    }

    /// <summary>The name errors give <paramref name="stream"/>: <paramref name="source"/>, else the file name, else "&lt;stream&gt;".</summary>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    public static string Source(Stream stream, string? source)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return StreamIO.SourceName(stream, source);
    }
}
