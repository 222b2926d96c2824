using System.Runtime.InteropServices;

namespace WoodFisher.IO;

/// <summary>
/// Streams the rows of a 2-D (m × d) float32 or float64 <c>.npy</c> file in chunks, converting to float32,
/// without loading the whole array: for gradient matrices larger than memory.
/// </summary>
public sealed class NpyRowReader : IDisposable
{
    private readonly FileStream _stream;
    private readonly string _path;
    private readonly long _dataOffset;
    private byte[] _scratch = [];
    private long _row;

    /// <summary>Opens <paramref name="path"/> and validates its header.</summary>
    /// <exception cref="InvalidDataException">Not 2-D, not f4/f8, or shorter than the header declares.</exception>
    public NpyRowReader(string path)
    {
        _path = path;
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            var header = Npy.ReadHeader(_stream, path);
            if (header.Shape.Length != 2)
                throw new InvalidDataException($"{path}: expected a 2-D (rows × columns) array but the file holds shape ({string.Join(", ", header.Shape)})");
            if (header.DType is not (DType.Float32 or DType.Float64))
                throw new InvalidDataException($"{path}: expected float32 or float64 rows but the file holds {header.DType}");
            if (header.Shape[1] > Array.MaxLength / 8 || header.Shape[1] == 0 && header.Shape[0] > 0)
                throw new InvalidDataException($"{path}: row length {header.Shape[1]} is not supported");
            DType = header.DType;
            Rows = header.Shape[0];
            Columns = (int)header.Shape[1];
            _dataOffset = header.DataOffset;
            long need;
            try { need = checked(Rows * Columns * DType.ItemSize()); }
            catch (OverflowException) { throw new InvalidDataException($"{path}: shape ({Rows}, {Columns}) overflows a 64-bit byte count"); }
            if (_stream.Length - _dataOffset < need)
                throw new InvalidDataException($"{path}: header declares {need} data bytes at byte {_dataOffset} but only {_stream.Length - _dataOffset} are present (truncated file?)");
        }
        catch
        {
            _stream.Dispose();
            throw;
        }
    }

    /// <summary>Rows in the file (m).</summary>
    public long Rows { get; }

    /// <summary>Elements per row (d).</summary>
    public int Columns { get; }

    /// <summary>Stored element type (<see cref="DType.Float32"/> or <see cref="DType.Float64"/>).</summary>
    public DType DType { get; }

    /// <summary>Index of the next row <see cref="ReadRows"/> returns.</summary>
    public long Position => _row;

    /// <summary>Reads up to <paramref name="maxRows"/> rows (float32, row-major) into <paramref name="destination"/>; returns how many, 0 at the end.</summary>
    public int ReadRows(Span<float> destination, int maxRows)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxRows);
        if (Columns == 0)
            return 0;
        long rows = Math.Min(Math.Min(maxRows, destination.Length / Columns), Rows - _row);
        if (rows <= 0)
            return 0;
        int count = checked((int)rows * Columns);
        long offset = _dataOffset + _row * Columns * DType.ItemSize();
        if (DType == DType.Float32)
        {
            StreamIO.ReadExactly(_stream, MemoryMarshal.AsBytes(destination[..count]), _path, offset, "rows");
        }
        else
        {
            const int chunk = 1 << 16;
            if (_scratch.Length < chunk * 8)
                _scratch = new byte[chunk * 8];
            for (int done = 0; done < count; done += chunk)
            {
                int n = Math.Min(chunk, count - done);
                var bytes = _scratch.AsSpan(0, n * 8);
                StreamIO.ReadExactly(_stream, bytes, _path, offset + (long)done * 8, "rows");
                var src = MemoryMarshal.Cast<byte, double>(bytes);
                var dst = destination.Slice(done, n);
                for (int i = 0; i < n; i++)
                    dst[i] = (float)src[i];
            }
        }
        _row += rows;
        return (int)rows;
    }

    /// <summary>Moves to row <paramref name="row"/> (0 ≤ row ≤ <see cref="Rows"/>).</summary>
    public void Seek(long row)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(row, Rows);
        _row = row;
        _stream.Position = _dataOffset + row * Columns * DType.ItemSize();
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _stream.Dispose();
}
