namespace WoodFisher.Kernels;

/// <summary>
/// The rows of a row-major m × d float32 matrix given as <see cref="IGradientRowFactors"/>, gathered by copying: the
/// factored path of the Dense strategy fed with rows it can be checked against bit for bit, and timed on any gradient file.
/// </summary>
internal sealed class RowMajorFactors(float[] rows, int m, int d) : IGradientRowFactors
{
    public int Rows => m;

    public int Dimension => d;

    public long Bytes => rows.LongLength * 4;

    public void Gather(int firstRow, int count, long start, int columns, Span<float> destination)
    {
        for (var r = 0; r < count; r++)
        {
            rows.AsSpan((int)(((long)(firstRow + r) * d) + start), columns).CopyTo(destination.Slice(r * columns, columns));
        }
    }
}
