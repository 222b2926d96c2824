namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// Local search over which rows share a slice, for the batch-1 layouts (<see cref="WindowedRows"/>, <see cref="SlidingRows"/>)
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
