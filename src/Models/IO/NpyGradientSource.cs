using WoodFisher.Models;

namespace WoodFisher.IO;

/// <summary>
/// An <see cref="IGradientSource"/> over a 2-D (m × d) float32 or float64 <c>.npy</c> file (one gradient per
/// row, e.g. written by PyTorch or JAX), streamed in row chunks, or read by column ranges (<see cref="ReadColumns"/>,
/// through <see cref="NpyColumnSlab"/>). Float64 rows are converted to float32.
/// </summary>
public sealed class NpyGradientSource : IColumnGradientSource, IDisposable
{
    private readonly NpyRowReader _reader;
    private readonly string _path;
    private NpyColumnSlab? _slab;

    /// <summary>Opens the file.</summary>
    /// <param name="path">An (m, d) f4 or f8 .npy file.</param>
    /// <param name="segments">Lengths of the parameter segments (layers), summing to d; null means one segment [d].</param>
    /// <exception cref="ArgumentException">The segments do not sum to d or one is not positive.</exception>
    public NpyGradientSource(string path, IReadOnlyList<int>? segments = null)
    {
        _reader = new NpyRowReader(path);
        _path = path;
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

    /// <inheritdoc/>
    public void ReadColumns(long firstRow, int rows, int firstColumn, int columns, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        if (firstRow < 0 || firstRow > Count - rows)
            throw new ArgumentOutOfRangeException(nameof(firstRow), $"Rows [{firstRow}, {firstRow + rows}) do not lie in the {Count} rows of {_path}.");
        if (destination.Length < (long)rows * columns)
            throw new ArgumentOutOfRangeException(nameof(destination), $"{rows} rows of {columns} columns need {(long)rows * columns} elements; the destination holds {destination.Length}.");
        if (_slab is not { } slab || slab.FirstColumn != firstColumn || slab.Columns != columns)
        {
            _slab?.Dispose();
            _slab = null;
            slab = _slab = new NpyColumnSlab(_path, firstColumn, columns);
        }
        slab.Seek(firstRow);
        if (slab.ReadRows(destination, rows) != rows)
            throw new InvalidDataException($"{_path}: rows [{firstRow}, {firstRow + rows}) of columns [{firstColumn}, {firstColumn + columns}) could not be read");
    }

    /// <summary>Closes the file.</summary>
    public void Dispose()
    {
        _slab?.Dispose();
        _reader.Dispose();
    }
}
