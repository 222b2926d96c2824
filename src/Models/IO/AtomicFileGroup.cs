namespace WoodFisher.IO;

/// <summary>
/// Files that appear together (see <see cref="AtomicFile.BeginGroup"/>): every atomic write inside the scope waits as a
/// flushed temporary; <see cref="Commit"/> renames them all, <see cref="Dispose"/> without a commit deletes them all.
/// </summary>
public sealed class AtomicFileGroup : IDisposable
{
    private readonly List<(string Temp, string Target)> _files = [];

    internal AtomicFileGroup()
    {
    }

    /// <summary>Whether the group still collects files (neither committed nor disposed).</summary>
    public bool IsOpen { get; private set; } = true;

    /// <summary>The targets written so far, in order.</summary>
    public IReadOnlyList<string> Targets => [.. _files.Select(f => f.Target)];

    /// <summary>Renames every temporary over its target (in the order written) and closes the group.</summary>
    /// <exception cref="IOException">A rename failed; the files not yet renamed are deleted.</exception>
    public void Commit()
    {
        ObjectDisposedException.ThrowIf(!IsOpen, this);
        IsOpen = false;
        try
        {
            AtomicFile.MoveAll(_files);
        }
        finally
        {
            Discard();
        }
    }

    /// <summary>Deletes the temporaries unless <see cref="Commit"/> ran.</summary>
    public void Dispose()
    {
        IsOpen = false;
        Discard();
    }

    internal void Add(string temp, string target)
    {
        var earlier = _files.FindIndex(f => f.Target == target);
        if (earlier >= 0)
        {
            AtomicFile.TryDelete(_files[earlier].Temp);
            AtomicFile.Unregister(_files[earlier].Temp);
            _files.RemoveAt(earlier);
        }

        _files.Add((temp, target));
    }

    private void Discard()
    {
        foreach (var (temp, _) in _files)
        {
            if (File.Exists(temp))
            {
                AtomicFile.TryDelete(temp);
            }

            AtomicFile.Unregister(temp);
        }

        _files.Clear();
    }
}
