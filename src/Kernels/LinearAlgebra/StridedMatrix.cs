namespace WoodFisher.Kernels;

/// <summary>
/// A read-only view of a matrix inside an array: element (i, j) is at
/// <c>Data[Offset + i·RowStride + j·ColStride]</c>. A transposed view swaps the strides. A symmetric view
/// (<see cref="Symmetric"/>) reads only the lower triangle of a row-major matrix: element (i, j + <see cref="ColShift"/>)
/// for i ≥ j + ColShift, else its mirror.
/// </summary>
internal readonly record struct StridedMatrix<T>(T[] Data, long Offset, int RowStride, int ColStride, bool Symmetric = false, int ColShift = 0)
{
    public T this[int i, int j]
    {
        get
        {
            if (!Symmetric)
            {
                return Data[Offset + ((long)i * RowStride) + ((long)j * ColStride)];
            }

            var gj = j + ColShift;
            return i >= gj ? Data[Offset + ((long)i * RowStride) + gj] : Data[Offset + ((long)gj * RowStride) + i];
        }
    }

    /// <summary>Row-major view with leading dimension <paramref name="ld"/>.</summary>
    public static StridedMatrix<T> RowMajor(T[] data, long offset, int ld) => new(data, offset, ld, 1);

    /// <summary>Transpose of a row-major matrix with leading dimension <paramref name="ld"/>.</summary>
    public static StridedMatrix<T> Transposed(T[] data, long offset, int ld) => new(data, offset, 1, ld);

    /// <summary>
    /// The symmetric matrix whose lower triangle (diagonal included) is stored row-major with leading dimension
    /// <paramref name="ld"/>; the strict upper triangle is never read.
    /// </summary>
    public static StridedMatrix<T> SymmetricLower(T[] data, long offset, int ld) => new(data, offset, ld, 1, Symmetric: true);
}
