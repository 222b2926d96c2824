namespace WoodFisher.Cli.Infrastructure;

/// <summary>
/// The one output transaction of a verb: every destination is checked before the work starts (distinct, its directory
/// exists and is writable, not a directory, the temporary name fits), every file the verb writes through
/// <see cref="AtomicFile"/> stays a temporary (<c>.NAME.woodfisher-PID-GUID.tmp</c>) until <see cref="Commit"/> renames
/// them all, and disposing without a commit (a failure) removes them all. A signal removes them too (<see cref="Abort"/>).
/// </summary>
internal sealed class Outputs : IDisposable
{
    private static readonly Lock Gate = new();
    private static readonly List<string> CreatedDirectories = [];
    private readonly Dictionary<string, string> _paths = new(StringComparer.Ordinal);
    private readonly List<string> _created = [];
    private readonly AtomicFileGroup _group = AtomicFile.BeginGroup();

    /// <summary>Checks <paramref name="path"/> as the destination of <paramref name="option"/>; null passes through.</summary>
    public string? File(string option, string? path)
    {
        if (path is null)
            return null;
        Claim(option, path);
        try
        {
            AtomicFile.CheckWritable(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{option}: {ex.Message}", ex);
        }
        return path;
    }

    /// <summary>
    /// Checks or creates <paramref name="path"/> as an output directory (<c>study --out</c>); a directory this run
    /// creates is removed again when the run fails.
    /// </summary>
    public string Directory(string option, string path)
    {
        Claim(option, path);
        if (System.IO.File.Exists(path))
            throw new UsageException($"{option}: {path} is a file; give a directory");
        if (!System.IO.Directory.Exists(path))
        {
            var parent = Path.GetDirectoryName(Path.GetFullPath(path));
            if (parent is not null && !System.IO.Directory.Exists(parent))
                throw new UsageException($"{option}: the directory {parent} does not exist");
            System.IO.Directory.CreateDirectory(path);
            _created.Add(Path.GetFullPath(path));
            lock (Gate)
                CreatedDirectories.Add(Path.GetFullPath(path));
        }
        return path;
    }

    /// <summary>Renames every file written into place.</summary>
    public void Commit()
    {
        _group.Commit();
        Forget();
    }

    public void Dispose()
    {
        _group.Dispose();
        foreach (var dir in _created)
            RemoveIfEmpty(dir);
        Forget();
    }

    /// <summary>For signal handlers: deletes every pending temporary of the process and the directories runs created.</summary>
    public static void Abort()
    {
        AtomicFile.DeletePending();
        lock (Gate)
        {
            foreach (var dir in CreatedDirectories)
                RemoveIfEmpty(dir);
        }
    }

    private void Claim(string option, string path)
    {
        var full = Path.GetFullPath(path);
        if (_paths.TryGetValue(full, out var other))
            throw new UsageException($"{option} and {other} name the same file {path}; give each output its own");
        _paths[full] = option;
    }

    private void Forget()
    {
        lock (Gate)
            CreatedDirectories.RemoveAll(_created.Contains);
        _created.Clear();
    }

    private static void RemoveIfEmpty(string dir)
    {
        try
        {
            if (System.IO.Directory.Exists(dir) && !System.IO.Directory.EnumerateFileSystemEntries(dir).Any())
                System.IO.Directory.Delete(dir);
        }
        catch (IOException)
        {
        }
    }
}
