using System.Text;

namespace WoodFisher.Cli.Infrastructure;

/// <summary>
/// A CSV written row by row as a run goes (<c>--log</c>), through an <see cref="AtomicFileWriter"/>: the rows live in the
/// temporary, flushed after each, and become the file only when the run's outputs commit.
/// </summary>
internal sealed class CsvLog : IDisposable
{
    private readonly AtomicFileWriter _file;
    private readonly StreamWriter _writer;
    private bool _committed;

    public CsvLog(string path, string header)
    {
        _file = AtomicFile.Open(path);
        _writer = new StreamWriter(_file.Stream, new UTF8Encoding(false), 1 << 12, leaveOpen: true) { NewLine = "\n" };
        Append(header);
    }

    /// <summary>Appends one line and flushes it to the temporary.</summary>
    public void Append(string line)
    {
        _writer.WriteLine(line);
        _writer.Flush();
    }

    /// <summary>Hands the file to the run's outputs (see <see cref="AtomicFileWriter.Commit"/>).</summary>
    public void Commit()
    {
        _writer.Dispose();
        _committed = true;
        _file.Commit();
    }

    public void Dispose()
    {
        if (!_committed)
            _writer.Dispose();
        _file.Dispose();
    }
}
