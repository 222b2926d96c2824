using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using WoodFisher.Models;

namespace WoodFisher.IO;

/// <summary>
/// Streams the columns [<see cref="FirstColumn"/>, <see cref="FirstColumn"/> + <see cref="Columns"/>) of a 2-D
/// (m × d) float32 or float64 <c>.npy</c> file, row by row, without reading the other columns: in a C-order file each
/// row's slab is one contiguous run of bytes, so a chunk of k rows is k positional reads of Columns × itemsize bytes,
/// d × itemsize apart. This is how an MPI rank reads only the columns of its blocks of G.
/// </summary>
public sealed class NpyColumnSlab : IDisposable
{
    private readonly SafeFileHandle _file;
    private readonly string _path;
    private readonly long _dataOffset;
    private readonly int _itemSize;
    private byte[] _scratch = [];
    private long _row;

    /// <summary>Opens <paramref name="path"/> (validated as <see cref="NpyRowReader"/> does) and selects a column range.</summary>
    /// <param name="path">An (m, d) f4 or f8 .npy file in C order.</param>
    /// <param name="firstColumn">First column of the slab (0 ≤ firstColumn ≤ d).</param>
    /// <param name="columns">Columns in the slab (0 ≤ columns ≤ d − firstColumn).</param>
    /// <exception cref="InvalidDataException">Not 2-D, not f4/f8, or shorter than the header declares.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The column range does not lie in [0, d).</exception>
    public NpyColumnSlab(string path, int firstColumn, int columns)
    {
        ArgumentNullException.ThrowIfNull(path);
        using (var reader = new NpyRowReader(path))
        {
            Rows = reader.Rows;
            FileColumns = reader.Columns;
            DType = reader.DType;
        }

        if (firstColumn < 0 || columns < 0 || firstColumn > FileColumns - columns)
        {
            throw new ArgumentOutOfRangeException(nameof(columns), $"Columns [{firstColumn}, {(long)firstColumn + columns}) do not lie in the {FileColumns} columns of {path}.");
        }

        FirstColumn = firstColumn;
        Columns = columns;
        _path = path;
        _itemSize = DType.ItemSize();
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 12))
        {
            _dataOffset = Npy.ReadHeader(stream, path).DataOffset;
        }

        _file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
    }

    /// <summary>Rows in the file (m).</summary>
    public long Rows { get; }

    /// <summary>Columns of the whole file (d).</summary>
    public int FileColumns { get; }

    /// <summary>First column of the slab.</summary>
    public int FirstColumn { get; }

    /// <summary>Columns in the slab.</summary>
    public int Columns { get; }

    /// <summary>Stored element type (<see cref="DType.Float32"/> or <see cref="DType.Float64"/>).</summary>
    public DType DType { get; }

    /// <summary>Index of the next row a read returns.</summary>
    public long Position => _row;

    /// <summary>Bytes of the file this slab reads per pass: m × Columns × itemsize.</summary>
    public long Bytes => Rows * Columns * _itemSize;

    /// <summary>Reads up to <paramref name="maxRows"/> rows of the slab (float32, row-major, Columns per row); returns how many, 0 at the end.</summary>
    public int ReadRows(Span<float> destination, int maxRows) => Read(destination, maxRows);

    /// <summary>Reads up to <paramref name="maxRows"/> rows of the slab (float64, row-major, Columns per row); returns how many, 0 at the end.</summary>
    public int ReadRows(Span<double> destination, int maxRows) => Read(destination, maxRows);

    /// <summary>Moves to row <paramref name="row"/> (0 ≤ row ≤ <see cref="Rows"/>).</summary>
    public void Seek(long row)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(row, Rows);
        _row = row;
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _file.Dispose();

    private int Read<T>(Span<T> destination, int maxRows)
        where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxRows);
        if (Columns == 0)
        {
            return 0;
        }

        var rows = (int)Math.Min(Math.Min(maxRows, destination.Length / Columns), Rows - _row);
        if (rows <= 0)
        {
            return 0;
        }

        var slabBytes = Columns * _itemSize;
        var direct = _itemSize == Marshal.SizeOf<T>();
        if (!direct && _scratch.Length < slabBytes)
        {
            _scratch = new byte[slabBytes];
        }

        for (var r = 0; r < rows; r++)
        {
            var offset = _dataOffset + ((_row + r) * FileColumns + FirstColumn) * _itemSize;
            var row = destination.Slice(r * Columns, Columns);
            var bytes = direct ? MemoryMarshal.AsBytes(row) : _scratch.AsSpan(0, slabBytes);
            ReadExactly(bytes, offset);
            if (!direct)
            {
                Convert(bytes, row);
            }
        }

        _row += rows;
        return rows;
    }

    private void ReadExactly(Span<byte> buffer, long offset)
    {
        var done = 0;
        while (done < buffer.Length)
        {
            var n = RandomAccess.Read(_file, buffer[done..], offset + done);
            if (n == 0)
            {
                throw new InvalidDataException($"{_path}: truncated at byte {offset + done} while reading columns [{FirstColumn}, {FirstColumn + Columns}) ({buffer.Length} bytes expected, {done} present)");
            }

            done += n;
        }
    }

    private static void Convert<T>(ReadOnlySpan<byte> bytes, Span<T> row)
        where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            var src = MemoryMarshal.Cast<byte, double>(bytes);
            var dst = MemoryMarshal.Cast<T, float>(row);
            for (var i = 0; i < dst.Length; i++)
            {
                dst[i] = (float)src[i];
            }
        }
        else
        {
            var src = MemoryMarshal.Cast<byte, float>(bytes);
            var dst = MemoryMarshal.Cast<T, double>(row);
            for (var i = 0; i < dst.Length; i++)
            {
                dst[i] = src[i];
            }
        }
    }
}

/// <summary>
/// An <see cref="IGradientSource"/> over a column slab of a gradient file (<see cref="NpyColumnSlab"/>): the rows of G
/// restricted to the columns of one rank's (or one group's) blocks, with that range's segment lengths.
/// </summary>
public sealed class NpyColumnSlabSource : IGradientSource, IDisposable
{
    private readonly NpyColumnSlab _slab;

    /// <summary>Opens the slab [<paramref name="firstColumn"/>, + <paramref name="columns"/>) of <paramref name="path"/>.</summary>
    /// <param name="path">An (m, d) f4 or f8 .npy file.</param>
    /// <param name="firstColumn">First column.</param>
    /// <param name="columns">Columns (≥ 1).</param>
    /// <param name="segments">Segment lengths of the slab, summing to <paramref name="columns"/>; null = one segment.</param>
    /// <exception cref="ArgumentException">The segments do not sum to the slab's width or one is not positive.</exception>
    public NpyColumnSlabSource(string path, int firstColumn, int columns, IReadOnlyList<int>? segments = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        _slab = new NpyColumnSlab(path, firstColumn, columns);
        int[] segs = segments is null ? [columns] : [.. segments];
        if (segs.Any(s => s < 1) || segs.Sum(s => (long)s) != columns)
        {
            _slab.Dispose();
            throw new ArgumentException($"Segment lengths must be positive and sum to the slab's {columns} columns (got {string.Join(",", segs)}).", nameof(segments));
        }

        Segments = segs;
    }

    /// <summary>The slab read.</summary>
    public NpyColumnSlab Slab => _slab;

    /// <inheritdoc/>
    public int Dimension => _slab.Columns;

    /// <inheritdoc/>
    public long Count => _slab.Rows;

    /// <inheritdoc/>
    public IReadOnlyList<int> Segments { get; }

    /// <inheritdoc/>
    public int Read(Span<float> buffer, int maxRows) => _slab.ReadRows(buffer, maxRows);

    /// <inheritdoc/>
    public void Reset() => _slab.Seek(0);

    /// <summary>Closes the file.</summary>
    public void Dispose() => _slab.Dispose();
}
