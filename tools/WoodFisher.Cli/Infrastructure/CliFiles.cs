namespace WoodFisher.Cli.Infrastructure;

/// <summary>Output files the CLI writes: always atomically (temp file + rename, see <see cref="AtomicFile"/>).</summary>
internal static class CliFiles
{
    /// <summary>Writes text to <paramref name="path"/> atomically, creating parent directories.</summary>
    public static void WriteText(string path, string text) => AtomicFile.WriteAllText(path, text);

    /// <summary>Writes <paramref name="path"/> atomically through a stream callback.</summary>
    public static void Write(string path, Action<Stream> write) => AtomicFile.Write(path, write);

    /// <summary>Checks an input file exists, with a one-line message naming it.</summary>
    public static string RequireFile(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such file");
        return path;
    }
}
