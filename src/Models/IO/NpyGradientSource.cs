using WoodFisher.Models;

namespace WoodFisher.IO;

/// <summary>
/// An <see cref="IGradientSource"/> over a 2-D (m × d) float32 or float64 <c>.npy</c> file (one gradient per
/// row, e.g. written by PyTorch or JAX), streamed in row chunks. Float64 rows are converted to float32.
/// </summary>
public sealed class NpyGradientSource : IGradientSource, IDisposable
{
    private readonly NpyRowReader _reader;

    /// <summary>Opens the file.</summary>
    /// <param name="path">An (m, d) f4 or f8 .npy file.</param>
    /// <param name="segments">Lengths of the parameter segments (layers), summing to d; null means one segment [d].</param>
    /// <exception cref="ArgumentException">The segments do not sum to d or one is not positive.</exception>
    public NpyGradientSource(string path, IReadOnlyList<int>? segments = null)
    {
        _reader = new NpyRowReader(path);
        if (segments is null)
        {
            Segments = [_reader.Columns];
        }
        else
        {
            long sum = 0;
            foreach (var s in segments)
            {
                if (s <= 0)
                {
                    _reader.Dispose();
                    throw new ArgumentException($"segment lengths must be positive, got {s}", nameof(segments));
                }
                sum += s;
            }
            if (sum != _reader.Columns)
            {
                _reader.Dispose();
                throw new ArgumentException($"segments sum to {sum} but {path} has {_reader.Columns} columns", nameof(segments));
            }
            Segments = segments.ToArray();
        }
    }

    /// <inheritdoc/>
    public int Dimension => _reader.Columns;

    /// <inheritdoc/>
    public long Count => _reader.Rows;

    /// <inheritdoc/>
    public IReadOnlyList<int> Segments { get; }

    /// <inheritdoc/>
    public int Read(Span<float> buffer, int maxRows) => _reader.ReadRows(buffer, maxRows);

    /// <inheritdoc/>
    public void Reset() => _reader.Seek(0);

    /// <summary>Closes the file.</summary>
    public void Dispose() => _reader.Dispose();
}
