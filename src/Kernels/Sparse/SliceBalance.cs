using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// Local search over which rows share a slice, for the batch-1 layouts (<see cref="SlidingRows"/>, <see cref="WindowedRows"/>)
/// whose slice costs the most entries any of its rows has in a window: a random pair of rows in two slices is swapped when
/// that lowers the two slices' cost. Equal moves are refused: they would let the slices drift towards an even mix of row
/// kinds, away from the groupings that pay. Deterministic (fixed seed).
/// </summary>
internal static class SliceBalance
{
    /// <summary>Count comparisons a layout's balancing may spend (about 10 ms).</summary>
    public const long Work = 30_000_000;

    /// <summary>
    /// Improves <paramref name="order"/> (the row of each lane, slice after slice) by <paramref name="trials"/> swaps tried;
    /// <paramref name="sliceCost"/> gives the cost of slice s under the current order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Improve(int[] order, int sliceRows, int rows, long trials, Func<int, int> sliceCost)
    {
        var slices = (rows + sliceRows - 1) / sliceRows;
        if (slices < 2)
        {
            return;
        }

        var cost = new int[slices];
        for (var s = 0; s < slices; s++)
        {
            cost[s] = sliceCost(s);
        }

        var random = new Random(17);
        for (long t = 0; t < trials; t++)
        {
            var (a, b) = (random.Next(slices), random.Next(slices));
            if (a == b)
            {
                continue;
            }

            var i = (a * sliceRows) + random.Next(Math.Min(sliceRows, rows - (a * sliceRows)));
            var j = (b * sliceRows) + random.Next(Math.Min(sliceRows, rows - (b * sliceRows)));
            (order[i], order[j]) = (order[j], order[i]);
            var (ca, cb) = (sliceCost(a), sliceCost(b));
            if (ca + cb < cost[a] + cost[b])
            {
                (cost[a], cost[b]) = (ca, cb);
            }
            else
            {
                (order[i], order[j]) = (order[j], order[i]);
            }
        }
    }
}

/// <summary>
/// Entries per row and window of inputs, a byte each (any windows a layout's cost is made of), each row's counts padded to
/// whole 32-byte vectors: the cost of a slice of rows as the sum over windows of the most entries any of its rows has there,
/// a handful of vector maxima per slice.
/// </summary>
internal sealed unsafe class WindowCounts
{
    private readonly byte[] _counts;
    private readonly int _stride;

    /// <summary>Zero counts for <paramref name="rows"/> rows of <paramref name="windows"/> windows (at most 255 entries each).</summary>
    public WindowCounts(int rows, int windows, string what)
    {
        _stride = (windows + 31) / 32 * 32;
        WeightChecks.Auxiliary((long)rows * _stride / 4, what);
        _counts = new byte[rows * _stride];
    }

    /// <summary>One more entry of row <paramref name="row"/> in window <paramref name="window"/>.</summary>
    public void Add(int row, int window) => _counts[(row * _stride) + window]++;

    /// <summary>Σ over windows of the most entries any of the rows <paramref name="order"/>[first..end) has there.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int PeakSum(int[] order, int first, int end)
    {
        var sum = 0;
        fixed (byte* c = _counts)
        {
            for (var k = 0; k < _stride; k += 32)
            {
                var peak = Vector256<byte>.Zero;
                for (var i = first; i < end; i++)
                {
                    peak = Vector256.Max(peak, Vector256.Load(c + ((nint)order[i] * _stride) + k));
                }

                sum += Vector256.Sum(Vector256.WidenLower(peak) + Vector256.WidenUpper(peak));
            }
        }

        return sum;
    }
}
