using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace WoodFisher.IO;

/// <summary>
/// Writes files all-or-nothing: the content goes to a temporary file in the target's directory, which is flushed and then
/// renamed over the target (<see cref="File.Move(string, string, bool)"/> with overwrite). A failure part-way leaves the old
/// file (or no file) and no partial output.
/// </summary>
/// <remarks>
/// Temporaries are named <c>.NAME.woodfisher-PID-GUID.tmp</c> beside the target <c>NAME</c>, so leftovers of a killed
/// process are recognisable: opening a target removes those of dead processes. <see cref="DeletePending"/> removes this
/// process's pending temporaries (a signal handler calls it before exiting). Inside a <see cref="BeginGroup"/> scope the
/// renames wait for <see cref="AtomicFileGroup.Commit"/>, which makes a set of files appear together or not at all.
/// </remarks>
public static class AtomicFile
{
    private const string Marker = ".woodfisher-";
    private const string Suffix = ".tmp";
    private static readonly Lock Gate = new();
    private static readonly HashSet<string> Pending = new(StringComparer.Ordinal);
    private static readonly AsyncLocal<AtomicFileGroup?> CurrentGroup = new();
    private static bool s_terminating;

    /// <summary>The longest file name the file systems this runs on accept, in UTF-8 bytes.</summary>
    public const int MaxNameBytes = 255;

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
            using var w = new StreamWriter(s, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
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
    /// Stale temporaries of the same target left by dead processes are removed first.
    /// </summary>
    /// <exception cref="OperationCanceledException">The process is terminating (<see cref="DeletePending"/> ran).</exception>
    public static AtomicFileWriter Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var target = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(target) ?? ".");
        RemoveStale(target);
        return new AtomicFileWriter(target, CurrentGroup.Value);
    }

    /// <summary>
    /// Starts a group: until the returned group is committed, writers opened on this logical thread (by any writer that
    /// goes through <see cref="AtomicFile"/>) flush their temporaries but do not rename them.
    /// <see cref="AtomicFileGroup.Commit"/> renames them all; disposing the group without committing deletes them all.
    /// </summary>
    /// <exception cref="InvalidOperationException">A group is already open on this logical thread.</exception>
    public static AtomicFileGroup BeginGroup()
    {
        if (CurrentGroup.Value is { IsOpen: true })
        {
            throw new InvalidOperationException("An atomic file group is already open; commit or dispose it first.");
        }

        var group = new AtomicFileGroup();
        CurrentGroup.Value = group;
        return group;
    }

    /// <summary>
    /// The temporary name this process uses for <paramref name="path"/> (a new GUID each call):
    /// <c>DIR/.NAME.woodfisher-PID-GUID.tmp</c>.
    /// </summary>
    public static string TemporaryPath(string path)
    {
        var full = Path.GetFullPath(path);
        return Path.Combine(Path.GetDirectoryName(full) ?? ".",
            string.Create(CultureInfo.InvariantCulture, $".{Path.GetFileName(full)}{Marker}{Environment.ProcessId}-{Guid.NewGuid():N}{Suffix}"));
    }

    /// <summary>
    /// Checks, before any work, that <paramref name="path"/> can be written atomically: its directory exists and is
    /// writable, the path is not a directory, and the temporary name fits (<see cref="MaxNameBytes"/>). Proven by creating
    /// and deleting the temporary itself.
    /// </summary>
    /// <exception cref="IOException">The path is a directory, or the directory is missing or not writable (the message names it).</exception>
    /// <exception cref="PathTooLongException">The name with its temporary suffix is too long.</exception>
    public static void CheckWritable(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw new IOException($"{path}: is a directory; give a file name");
        }

        var dir = Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(dir))
        {
            throw new DirectoryNotFoundException($"{path}: the directory {dir} does not exist");
        }

        var temp = TemporaryPath(full);
        if (Encoding.UTF8.GetByteCount(Path.GetFileName(temp)) > MaxNameBytes)
        {
            throw new PathTooLongException($"{path}: the name is too long to write atomically (its temporary name {Path.GetFileName(temp)} exceeds {MaxNameBytes} bytes)");
        }

        try
        {
            using (new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new IOException($"{path}: the directory {dir} is not writable", ex);
        }
    }

    /// <summary>
    /// Deletes every temporary this process has open or waiting in a group, and makes later opens and commits fail with
    /// <see cref="OperationCanceledException"/>. For signal handlers: after it returns, no output of this process appears.
    /// </summary>
    public static void DeletePending()
    {
        lock (Gate)
        {
            s_terminating = true;
            foreach (var temp in Pending)
            {
                TryDelete(temp);
            }

            Pending.Clear();
        }
    }

    /// <summary>
    /// Deletes temporaries of <paramref name="target"/> (<c>.NAME.woodfisher-PID-*.tmp</c>) whose process is no longer running.
    /// </summary>
    public static void RemoveStale(string target)
    {
        var full = Path.GetFullPath(target);
        var dir = Path.GetDirectoryName(full);
        if (dir is null || !Directory.Exists(dir))
        {
            return;
        }

        var prefix = "." + Path.GetFileName(full) + Marker;
        foreach (var file in Directory.EnumerateFiles(dir, "." + Path.GetFileName(full) + Marker + "*" + Suffix))
        {
            var name = Path.GetFileName(file);
            var rest = name[prefix.Length..];
            var dash = rest.IndexOf('-', StringComparison.Ordinal);
            if (dash > 0 && int.TryParse(rest.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && !IsRunning(pid))
            {
                TryDelete(file);
            }
        }
    }

    internal static void Register(string temp)
    {
        lock (Gate)
        {
            if (s_terminating)
            {
                throw new OperationCanceledException("The process is terminating; no output is written.");
            }

            Pending.Add(temp);
        }
    }

    internal static void Unregister(string temp)
    {
        lock (Gate)
        {
            Pending.Remove(temp);
        }
    }

    /// <summary>Renames temporaries over their targets under the lock <see cref="DeletePending"/> takes, so a signal sees all or none.</summary>
    internal static void MoveAll(IReadOnlyList<(string Temp, string Target)> moves)
    {
        lock (Gate)
        {
            if (s_terminating)
            {
                throw new OperationCanceledException("The process is terminating; no output is written.");
            }

            foreach (var (temp, target) in moves)
            {
                File.Move(temp, target, overwrite: true);
                Pending.Remove(temp);
            }
        }
    }

    internal static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static bool IsRunning(int pid)
    {
        if (pid == Environment.ProcessId)
        {
            return true;
        }

        if (OperatingSystem.IsLinux())
        {
            return Directory.Exists($"/proc/{pid}");
        }

        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}

/// <summary>A pending atomic write (see <see cref="AtomicFile.Open"/>).</summary>
public sealed class AtomicFileWriter : IDisposable
{
    private readonly string _target;
    private readonly string _temp;
    private readonly FileStream _stream;
    private readonly AtomicFileGroup? _group;
    private bool _done;

    internal AtomicFileWriter(string target, AtomicFileGroup? group)
    {
        _target = target;
        _group = group is { IsOpen: true } ? group : null;
        _temp = AtomicFile.TemporaryPath(target);
        AtomicFile.Register(_temp);
        try
        {
            _stream = new FileStream(_temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        }
        catch
        {
            AtomicFile.Unregister(_temp);
            throw;
        }
    }

    /// <summary>The temporary file's stream.</summary>
    public Stream Stream => _stream;

    /// <summary>The final path.</summary>
    public string TargetPath => _target;

    /// <summary>
    /// Flushes to disk and renames the temporary file over the target; inside a group, hands the flushed temporary to the
    /// group, which renames it on <see cref="AtomicFileGroup.Commit"/>.
    /// </summary>
    public void Commit()
    {
        ObjectDisposedException.ThrowIf(_done, this);
        _stream.Flush(flushToDisk: true);
        _stream.Dispose();
        _done = true;
        if (_group is not null)
        {
            _group.Add(_temp, _target);
            return;
        }

        try
        {
            AtomicFile.MoveAll([(_temp, _target)]);
        }
        catch
        {
            AtomicFile.TryDelete(_temp);
            AtomicFile.Unregister(_temp);
            throw;
        }
    }

    /// <summary>Deletes the temporary file unless <see cref="Commit"/> ran.</summary>
    public void Dispose()
    {
        if (_done)
        {
            return;
        }

        _done = true;
        _stream.Dispose();
        AtomicFile.TryDelete(_temp);
        AtomicFile.Unregister(_temp);
    }
}
