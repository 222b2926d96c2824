using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace WoodFisher.IO;

/// <summary>
/// Streams a 2-D (rows × columns) float32 or float64 C-order .npy file row chunk by row chunk, so the array never has to fit
/// in memory. The row count need not be known in advance: the version-1.0 header is written with room for any count and
/// rewritten with the real one on <see cref="Commit"/>. Output is atomic (temporary file + rename, see <see cref="AtomicFile"/>):
/// disposing without committing leaves no file.
/// <code>
/// using var w = new NpyWriter(path, d);
/// while (...) w.WriteRows(chunk);
/// w.Commit();
/// </code>
/// </summary>
public sealed class NpyWriter : IDisposable
{
    private const int HeaderBytes = 128;
    private readonly AtomicFileWriter _file;
    private long _values;

    /// <summary>Opens <paramref name="path"/> for an array of <paramref name="columns"/> columns.</summary>
    /// <param name="path">Target file (replaced on <see cref="Commit"/>).</param>
    /// <param name="columns">Values per row (d ≥ 1).</param>
    /// <param name="dtype"><see cref="DType.Float32"/> or <see cref="DType.Float64"/>.</param>
    public NpyWriter(string path, int columns, DType dtype = DType.Float32)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        if (dtype is not (DType.Float32 or DType.Float64))
            throw new NotSupportedException($"NpyWriter writes float32 or float64, not {dtype}");
        Columns = columns;
        DType = dtype;
        _file = AtomicFile.Open(path);
        _file.Stream.Write(Header(long.MaxValue / columns));
    }

    /// <summary>Values per row.</summary>
    public int Columns { get; }

    /// <summary>Element type of the file.</summary>
    public DType DType { get; }

    /// <summary>Complete rows written so far.</summary>
    public long Rows => _values / Columns;

    /// <summary>Appends rows (a whole number of them, row-major) as float32.</summary>
    public void WriteRows(ReadOnlySpan<float> rows)
    {
        if (DType != DType.Float32)
            throw new InvalidOperationException($"this writer holds {DType}; pass double rows");
        Append(MemoryMarshal.AsBytes(rows), rows.Length);
    }

    /// <summary>Appends rows (a whole number of them, row-major) as float64.</summary>
    public void WriteRows(ReadOnlySpan<double> rows)
    {
        if (DType != DType.Float64)
            throw new InvalidOperationException($"this writer holds {DType}; pass float rows");
        Append(MemoryMarshal.AsBytes(rows), rows.Length);
    }

    /// <summary>Writes the final header (shape (<see cref="Rows"/>, <see cref="Columns"/>)) and moves the file into place.</summary>
    public void Commit()
    {
        _file.Stream.Position = 0;
        _file.Stream.Write(Header(Rows));
        _file.Commit();
    }

    /// <summary>Discards the output unless <see cref="Commit"/> ran.</summary>
    public void Dispose() => _file.Dispose();

    private void Append(ReadOnlySpan<byte> bytes, int count)
    {
        if (count % Columns != 0)
            throw new ArgumentException($"{count} values is not a whole number of {Columns}-value rows", nameof(count));
        _file.Stream.Write(bytes);
        _values += count;
    }

    private byte[] Header(long rows)
    {
        var descr = DType == DType.Float32 ? "<f4" : "<f8";
        var dict = string.Create(CultureInfo.InvariantCulture, $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({rows}, {Columns}), }}");
        var header = new byte[HeaderBytes];
        Npy.Magic.CopyTo(header);
        header[6] = 1;
        header[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), HeaderBytes - 10);
        var n = Encoding.ASCII.GetBytes(dict, header.AsSpan(10));
        header.AsSpan(10 + n, HeaderBytes - 11 - n).Fill((byte)' ');
        header[^1] = (byte)'\n';
        return header;
    }
}
