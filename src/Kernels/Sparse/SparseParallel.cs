using System.Runtime.ExceptionServices;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// Splits a product over the cores: by output rows when there are enough of them, else by output columns (a short, wide
/// product such as a convolution's im2col matrix). Products under <see cref="Threshold"/> multiply-adds run on the
/// calling thread, where dispatching to other cores would cost more than it saves.
/// </summary>
internal static class SparseParallel
{
    /// <summary>
    /// Multiply-adds per core below which a product is not split: 2¹⁹ are about 5 µs of one core's work, the least that
    /// pays for waking another core and joining it (a split 53 × 147 × 64 product, 2¹⁹ in all, ran slower than on one
    /// core on a 2-core Xeon).
    /// </summary>
    public const long Threshold = 1L << 19;

    /// <summary>Column ranges are multiples of this (a whole number of 512-bit registers).</summary>
    private const int ColumnAlign = 64;

    /// <summary>Parts to split <paramref name="work"/> multiply-adds into.</summary>
    public static int Parts(long work) => work < Threshold ? 1 : (int)Math.Min(Environment.ProcessorCount, work / Threshold);

    /// <summary>
    /// Runs <paramref name="body"/>(r0, r1, j0, j1) over a partition of rows [0, rows) × columns [0, n). When
    /// <paramref name="rowWork"/> (cumulative work per row, length rows + 1, like CSR row pointers) is given, row ranges
    /// carry equal work rather than equal counts; otherwise the inner boundaries are multiples of <paramref name="rowGrain"/>
    /// (a kernel that takes rows in passes of that many does no pass over fewer rows except the last).
    /// </summary>
    public static void For(int rows, int n, long work, Action<int, int, int, int> body, int[]? rowWork = null, int rowGrain = 1)
    {
        var parts = Parts(work);
        if (parts <= 1 || (rows < 2 && n < 2 * ColumnAlign))
        {
            body(0, rows, 0, n);
            return;
        }

        Action<int> part;
        if (rows >= 4 * parts || n < 2 * ColumnAlign)
        {
            parts = Math.Min(parts, rows);
            part = p => body(RowBoundary(rows, parts, p, rowWork, rowGrain), RowBoundary(rows, parts, p + 1, rowWork, rowGrain), 0, n);
        }
        else
        {
            var chunk = (((n + parts - 1) / parts) + ColumnAlign - 1) / ColumnAlign * ColumnAlign;
            parts = (n + chunk - 1) / chunk;
            part = p => body(0, rows, p * chunk, Math.Min(n, (p + 1) * chunk));
        }

        try
        {
            Parallel.For(0, parts, part);
        }
        catch (AggregateException e)
        {
            ExceptionDispatchInfo.Capture(e.Flatten().InnerExceptions[0]).Throw();
            throw;
        }
    }

    private static int RowBoundary(int rows, int parts, int p, int[]? rowWork, int rowGrain)
    {
        if (p >= parts)
        {
            return rows;
        }

        if (rowWork is null)
        {
            return (int)((long)rows * p / parts) / rowGrain * rowGrain;
        }

        var target = rowWork[0] + ((long)(rowWork[rows] - rowWork[0]) * p / parts);
        var at = Array.BinarySearch(rowWork, 0, rows + 1, (int)target);
        return Math.Clamp(at >= 0 ? at : ~at, 0, rows);
    }
}
