namespace WoodFisher.Kernels.Sparse;

/// <summary>How <see cref="SlidingRows"/> lays a matrix out: rows into slices, each slice's entries into steps.</summary>
internal sealed partial class SlidingRows
{
    /// <summary>Padded slots allowed per stored entry: past it the permutes of zeros cost more than the gathers they replace.</summary>
    private const int MaxSlotsPerEntry = 4;

    /// <summary>
    /// The layout with windows of <paramref name="window"/> inputs (8 or 16) of rows given as runs of (value, column) entries
    /// (any order within a row; exact zeros are left out), or null when the matrix has fewer than 8 or more than
    /// <see cref="MaxColumns"/> columns, or its padding would exceed <see cref="MaxSlotsPerEntry"/> slots per entry.
    /// </summary>
    public static SlidingRows? TryBuild(int window, int rows, int columns, float[] values, int[] cols, int[] rowPointers)
    {
        if (window is not (8 or 16))
        {
            throw new ArgumentOutOfRangeException(nameof(window), window, "A window is 8 or 16 inputs.");
        }

        if (columns < 8 || columns > MaxColumns || rows == 0)
        {
            return null;
        }

        // Rows sorted by entry count (longest first, ties in row order), then swapped between slices where that removes steps.
        var entries = Entries.Sorted(rows, values, cols, rowPointers);
        var order = Enumerable.Range(0, rows).OrderByDescending(entries.Length).ToArray();
        var slices = (rows + SliceRows - 1) / SliceRows;
        Balance(window, order, rows, columns, entries);

        // Each slice's steps start at a multiple of eight, so that step t's lane offsets are nibble t % 8 of octet t / 8.
        var first = new long[slices + 1];
        long steps = 0;
        for (var s = 0; s < slices; s++)
        {
            var k = Walk(window, s, rows, columns, order, entries, null);
            steps += k;
            first[s + 1] = first[s] + ((k + 7) / 8 * 8);
        }

        var padded = first[slices];
        var windows = Windows(Span(window, columns));
        if (steps * SliceRows > MaxSlotsPerEntry * Math.Max(entries.Count, SliceRows) || padded * SliceRows > Array.MaxLength)
        {
            return null;
        }

        WeightChecks.Auxiliary((padded * (SliceRows + 2)) + ((long)slices * (windows + 1)), $"The sliding layout of a {rows} × {columns} sparse matrix");
        var layout = new Layout(window, columns, padded);
        for (var s = 0; s < slices; s++)
        {
            layout.Slice((int)first[s]);
            Walk(window, s, rows, columns, order, entries, layout);
        }

        // bounds[s·(windows + 1) + w]: slice s's first step whose window starts at or past input 8w (w = windows: its end).
        var bounds = new int[slices * (windows + 1)];
        for (var s = 0; s < slices; s++)
        {
            var (t, end) = ((int)first[s], (int)first[s] + layout.StepsOf(s));
            for (var w = 0; w <= windows; w++)
            {
                while (t < end && layout.InputOffset(t) < w * BoundWindow)
                {
                    t++;
                }

                bounds[(s * (windows + 1)) + w] = w == windows ? end : t;
            }
        }

        var laneOfRow = new int[rows];
        for (var l = 0; l < rows; l++)
        {
            laneOfRow[order[l]] = l;
        }

        return new SlidingRows(window, columns, (int)steps, laneOfRow, bounds, layout);
    }

    /// <summary>
    /// Swaps rows between slices where that removes steps (<see cref="SliceBalance"/>), costing a slice by windows at fixed
    /// multiples of their width and half a width past them (the most entries any of its rows has in each, summed): a proxy
    /// for its sliding steps that a few vector maxima give, where walking the slice takes microseconds. On the first layer of
    /// a 90%-sparse 784-300-100-10 MLP, 90,000 trials (a few milliseconds) remove 8–10% of the steps.
    /// </summary>
    private static void Balance(int window, int[] order, int rows, int columns, in Entries entries)
    {
        // Windows of each phase: the second's last one, (columns − 1 + window / 2) / window, may lie past the first's.
        var windows = ((columns + (window / 2)) / window) + 1;
        var counts = new WindowCounts(rows, 2 * windows, $"The sliding layout of a {rows} × {columns} sparse matrix");
        for (var r = 0; r < rows; r++)
        {
            for (var e = entries.Starts[r]; e < entries.Starts[r + 1] - 1; e++)
            {
                counts.Add(r, entries.Columns[e] / window);
                counts.Add(r, windows + ((entries.Columns[e] + (window / 2)) / window));
            }
        }

        var trials = Math.Min(300L * rows, 4 * SliceBalance.Work / (SliceRows * windows));
        SliceBalance.Improve(order, SliceRows, rows, trials, s => counts.PeakSum(order, s * SliceRows, Math.Min(rows, (s + 1) * SliceRows)));
    }

    /// <summary>
    /// The steps of slice <paramref name="s"/>: each starts at the lowest column left in any of the slice's rows (rounded down
    /// to the <see cref="Granularity"/>, and no later than the last whole window of the span) and takes every row's next entry
    /// inside its window. Counts them, and writes them into <paramref name="layout"/> when it is given.
    /// </summary>
    private static int Walk(int window, int s, int rows, int columns, int[] order, in Entries entries, Layout? layout)
    {
        // at[l]: lane l's next entry; its column is the sentinel int.MaxValue once the row is done.
        Span<int> at = stackalloc int[SliceRows];
        var cols = entries.Columns;
        for (var l = 0; l < SliceRows; l++)
        {
            at[l] = (s * SliceRows) + l < rows ? entries.Starts[order[(s * SliceRows) + l]] : cols.Length - 1;
        }

        var (g, lastStart) = (Granularity(window), Span(window, columns) - window);
        var steps = 0;
        while (true)
        {
            var low = int.MaxValue;
            for (var l = 0; l < SliceRows; l++)
            {
                low = Math.Min(low, cols[at[l]]);
            }

            if (low == int.MaxValue)
            {
                return steps;
            }

            var offset = Math.Min(low / g * g, lastStart);
            for (var l = 0; l < SliceRows; l++)
            {
                if (cols[at[l]] - offset < window)
                {
                    layout?.Put(l, cols[at[l]] - offset, entries.Values[at[l]]);
                    at[l]++;
                }
            }

            layout?.EndStep(offset);
            steps++;
        }
    }

    /// <summary>
    /// Each row's non-zero entries sorted by column, row r's from <c>Starts[r]</c>, each row followed by a sentinel column
    /// int.MaxValue (and one more at the end, where the lanes past the last row point), so that a walk reads a lane's next
    /// column without testing for the row's end.
    /// </summary>
    private readonly record struct Entries(int[] Columns, float[] Values, int[] Starts, int Count)
    {
        public static Entries Sorted(int rows, float[] values, int[] cols, int[] rowPointers)
        {
            var starts = new int[rows + 1];
            for (var r = 0; r < rows; r++)
            {
                var n = 1;
                for (var e = rowPointers[r]; e < rowPointers[r + 1]; e++)
                {
                    n += values[e] != 0 ? 1 : 0;
                }

                starts[r + 1] = starts[r] + n;
            }

            WeightChecks.Auxiliary(2L * (starts[rows] + 1), "The sorted entries of a sparse matrix");
            var (sortedColumns, sortedValues) = (new int[starts[rows] + 1], new float[starts[rows] + 1]);
            for (var r = 0; r < rows; r++)
            {
                var at = starts[r];
                for (var e = rowPointers[r]; e < rowPointers[r + 1]; e++)
                {
                    if (values[e] != 0)
                    {
                        (sortedColumns[at], sortedValues[at]) = (cols[e], values[e]);
                        at++;
                    }
                }

                Array.Sort(sortedColumns, sortedValues, starts[r], at - starts[r]);
                sortedColumns[at] = int.MaxValue;
            }

            sortedColumns[^1] = int.MaxValue;
            return new Entries(sortedColumns, sortedValues, starts, starts[rows] - rows);
        }

        public int Length(int r) => Starts[r + 1] - Starts[r] - 1;
    }

    /// <summary>The arrays being filled: step t's values at [16t, 16t + 16), its lane offsets in nibble t % 8 of octet t / 8.</summary>
    private sealed class Layout(int window, int columns, long steps)
    {
        private readonly int[] _inputOffsets = new int[steps];
        private readonly List<int> _stepsOf = [];
        private int _step;

        public PinnedAligned<ushort> Offsets { get; } = new((int)steps);

        public PinnedAligned<float> Values { get; } = new((int)(steps * SliceRows));

        public PinnedAligned<int> LaneIndices { get; } = new((int)(steps / 8 * SliceRows));

        /// <summary>The window's first input of step t (a column of W).</summary>
        public int InputOffset(int t) => _inputOffsets[t];

        /// <summary>Steps of slice s.</summary>
        public int StepsOf(int s) => _stepsOf[s];

        /// <summary>Starts the next slice at step <paramref name="first"/>.</summary>
        public void Slice(int first)
        {
            _step = first;
            _stepsOf.Add(0);
        }

        public void Put(int lane, int inWindow, float value)
        {
            Values.Span[(_step * SliceRows) + lane] = value;
            LaneIndices.Span[(_step / 8 * SliceRows) + lane] |= inWindow << (4 * (_step % 8));
        }

        public void EndStep(int offset)
        {
            Offsets.Span[_step] = (ushort)ScratchOffset(offset, window, columns);
            _inputOffsets[_step++] = offset;
            _stepsOf[^1]++;
        }
    }
}
