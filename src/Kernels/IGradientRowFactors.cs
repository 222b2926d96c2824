using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace WoodFisher.Kernels;

/// <summary>
/// Gradient rows held as factors rather than as m × d entries. A Linear layer's per-sample gradient is the outer product
/// δₙaₙᵀ of the output gradient and the input, so m rows of a layer with in × out weights need m·(in + out) numbers
/// instead of m·in·out; a block of c coordinates is multiplied out only when it is needed, while it is in cache.
/// </summary>
public interface IGradientRowFactors
{
    /// <summary>Rows m.</summary>
    int Rows { get; }

    /// <summary>Coordinates per row, d.</summary>
    int Dimension { get; }

    /// <summary>Bytes the factors hold.</summary>
    long Bytes { get; }

    /// <summary>
    /// Writes coordinates [<paramref name="start"/>, start + <paramref name="count"/>) of rows [<paramref name="firstRow"/>,
    /// firstRow + <paramref name="rows"/>) into <paramref name="destination"/> (rows × count, row-major), each exactly the
    /// float32 value the materialised row holds. Safe to call from several threads at once.
    /// </summary>
    void Gather(int firstRow, int rows, long start, int count, Span<float> destination);

    /// <summary>
    /// As <see cref="Gather"/>, but may leave out rows that are ±0 in every coordinate of the window; every other row goes,
    /// in order, to the front of <paramref name="destination"/>, and the count written is returned. A row left out adds only ±0
    /// terms to any sum of products, which leave a non-zero sum as it is and a zero one zero, so a Gram or a product over
    /// the rows written is the one over all of them. Such rows are common: a Linear layer's row is zero in every block of
    /// a unit that a ReLU switched off for that sample. The default gathers every row and then drops those found zero.
    /// </summary>
    int GatherNonZero(int firstRow, int rows, long start, int count, Span<float> destination)
    {
        Gather(firstRow, rows, start, count, destination);
        return GradientRows.DropZeroRows(destination, rows, count);
    }
}

/// <summary>Helpers on row-major gradient rows.</summary>
internal static class GradientRows
{
    /// <summary>
    /// Moves the rows of <paramref name="block"/> (rows × c) that are not ±0 throughout to its front, in order, and
    /// returns their count (see <see cref="IGradientRowFactors.GatherNonZero"/> for why the others may be left out).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static int DropZeroRows(Span<float> block, int rows, int c)
    {
        var kept = 0;
        for (var r = 0; r < rows; r++)
        {
            var row = block.Slice(r * c, c);
            if (IsZero(row))
            {
                continue;
            }

            if (kept != r)
            {
                row.CopyTo(block.Slice(kept * c, c));
            }

            kept++;
        }

        return kept;
    }

    /// <summary>
    /// True when every entry is ±0 (NaN is not). Optimised from the first call, with no search set-up: a non-zero row
    /// usually ends it at its first register, and it runs once per row and block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe bool IsZero(ReadOnlySpan<float> row)
    {
        var n = row.Length;
        var i = 0;
        fixed (float* p = row)
        {
            var magnitude = Vector256.Create(int.MaxValue);
            for (; i + 8 <= n; i += 8)
            {
                if (!Vector256.EqualsAll(Vector256.Load((int*)p + i) & magnitude, Vector256<int>.Zero))
                {
                    return false;
                }
            }

            for (; i < n; i++)
            {
                if ((((int*)p)[i] & int.MaxValue) != 0)
                {
                    return false;
                }
            }
        }

        return true;
    }
}
