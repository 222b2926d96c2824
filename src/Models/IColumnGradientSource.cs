namespace WoodFisher.Models;

/// <summary>
/// A gradient source whose rows can be read restricted to a range of columns without reading the others: a C-order file
/// holds each row's columns [first, first + count) as one contiguous run of bytes. Reading G (m × d) group of blocks by
/// group of blocks then reads the file once in all, however many groups there are (see <see cref="ColumnSlabReader"/>).
/// </summary>
public interface IColumnGradientSource : IGradientSource
{
    /// <summary>
    /// Writes rows [<paramref name="firstRow"/>, + <paramref name="rows"/>) restricted to columns
    /// [<paramref name="firstColumn"/>, + <paramref name="columns"/>) into <paramref name="destination"/> (rows × columns,
    /// row-major). Independent of <see cref="IGradientSource.Read"/>'s position; may be called from another thread while
    /// nothing else reads the source.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The rows or columns do not lie in the source, or the destination is too short.</exception>
    void ReadColumns(long firstRow, int rows, int firstColumn, int columns, Span<float> destination);
}
