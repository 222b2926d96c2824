namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// Where the rows of a <see cref="WindowedRows"/> layout go for one slice width: rows sorted by entry count (longest first,
/// ties in row order), then swapped between slices where that removes steps; per slice and window, the steps (the most
/// entries any of the slice's rows has in the window); and what that costs in slots, quads of steps and runs.
/// </summary>
internal sealed class WindowedRowsPlan
{
    private WindowedRowsPlan(int sliceRows, int[] order, int[] steps, long slots, long quads, int runs)
    {
        (SliceRows, Order, Steps, Slots, Quads, Runs) = (sliceRows, order, steps, slots, quads, runs);
    }

    /// <summary>Rows per slice.</summary>
    public int SliceRows { get; }

    /// <summary>The row of each lane, slice after slice.</summary>
    public int[] Order { get; }

    /// <summary>Steps of slice s in window w at [s·windows + w].</summary>
    public int[] Steps { get; }

    /// <summary>Values stored, padding included (steps × slice rows).</summary>
    public long Slots { get; }

    /// <summary>Groups of up to four steps of one run (each holds its lanes' offsets in one 32-bit lane apiece).</summary>
    public long Quads { get; }

    /// <summary>Slice-window pairs with at least one step.</summary>
    public int Runs { get; }

    /// <summary>Time of one y = Wx in steps of 16 lanes: the steps, and each run's loop control.</summary>
    public long Cost => (Slots / WindowedRows.Lanes) + (WindowedRows.RunCost * (long)Runs);

    /// <summary>Plans slices of <paramref name="sliceRows"/> rows for rows given as runs of (value, column) entries (exact zeros left out).</summary>
    public static WindowedRowsPlan Make(int sliceRows, int rows, int columns, float[] values, int[] cols, int[] rowPointers)
    {
        var slices = (rows + sliceRows - 1) / sliceRows;
        var windows = (columns + WindowedRows.Window - 1) / WindowedRows.Window;
        var counts = new int[rows];
        for (var r = 0; r < rows; r++)
        {
            for (var e = rowPointers[r]; e < rowPointers[r + 1]; e++)
            {
                counts[r] += values[e] != 0 ? 1 : 0;
            }
        }

        // OrderByDescending is stable: ties stay in row order.
        var order = Enumerable.Range(0, rows).OrderByDescending(r => counts[r]).ToArray();
        Balance(order, sliceRows, rows, columns, values, cols, rowPointers);

        WeightChecks.Auxiliary((long)sliceRows * windows * 2, $"The windowed layout of a {rows} × {columns} sparse matrix");
        var laneCounts = new int[sliceRows * windows];
        var steps = new int[slices * windows];
        long slots = 0;
        long quads = 0;
        var runs = 0;
        for (var s = 0; s < slices; s++)
        {
            Array.Clear(laneCounts);
            for (var l = 0; l < sliceRows && (s * sliceRows) + l < rows; l++)
            {
                var r = order[(s * sliceRows) + l];
                for (var e = rowPointers[r]; e < rowPointers[r + 1]; e++)
                {
                    if (values[e] != 0)
                    {
                        laneCounts[(l * windows) + (cols[e] / WindowedRows.Window)]++;
                    }
                }
            }

            for (var w = 0; w < windows; w++)
            {
                var k = 0;
                for (var l = 0; l < sliceRows; l++)
                {
                    k = Math.Max(k, laneCounts[(l * windows) + w]);
                }

                steps[(s * windows) + w] = k;
                slots += (long)k * sliceRows;
                quads += (k + 3) / 4;
                runs += k > 0 ? 1 : 0;
            }
        }

        return new WindowedRowsPlan(sliceRows, order, steps, slots, quads, runs);
    }

    /// <summary>Swaps rows between slices where that removes steps (<see cref="SliceBalance"/>), in about 10 ms at most.</summary>
    private static void Balance(int[] order, int sliceRows, int rows, int columns, float[] values, int[] cols, int[] rowPointers)
    {
        var windows = (columns + WindowedRows.Window - 1) / WindowedRows.Window;
        if (rows <= sliceRows)
        {
            return;
        }

        var counts = new WindowCounts(rows, windows, $"The windowed layout of a {rows} × {columns} sparse matrix");
        for (var r = 0; r < rows; r++)
        {
            for (var e = rowPointers[r]; e < rowPointers[r + 1]; e++)
            {
                if (values[e] != 0)
                {
                    counts.Add(r, cols[e] / WindowedRows.Window);
                }
            }
        }

        var trials = Math.Min(100L * rows, SliceBalance.Work / (2L * sliceRows * windows));
        SliceBalance.Improve(order, sliceRows, rows, trials, s => counts.PeakSum(order, s * sliceRows, Math.Min(rows, (s + 1) * sliceRows)));
    }
}
