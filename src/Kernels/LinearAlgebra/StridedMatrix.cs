namespace WoodFisher.Kernels;

/// <summary>
/// A read-only view of a matrix inside an array: element (i, j) is at
/// <c>Data[Offset + i·RowStride + j·ColStride]</c>. A transposed view swaps the strides.
/// </summary>
internal readonly record struct StridedMatrix<T>(T[] Data, long Offset, int RowStride, int ColStride)
{
    public T this[int i, int j] => Data[Offset + ((long)i * RowStride) + ((long)j * ColStride)];

    /// <summary>Row-major view with leading dimension <paramref name="ld"/>.</summary>
    public static StridedMatrix<T> RowMajor(T[] data, long offset, int ld) => new(data, offset, ld, 1);

    /// <summary>Transpose of a row-major matrix with leading dimension <paramref name="ld"/>.</summary>
    public static StridedMatrix<T> Transposed(T[] data, long offset, int ld) => new(data, offset, 1, ld);
}
