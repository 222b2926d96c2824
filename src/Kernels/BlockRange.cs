namespace WoodFisher.Kernels;

/// <summary>
/// A contiguous run of blocks of a <see cref="BlockLayout"/>: blocks [<see cref="FirstBlock"/>,
/// <see cref="FirstBlock"/> + <see cref="BlockCount"/>), which cover the coordinates [<see cref="Start"/>,
/// <see cref="End"/>). The unit a pass over groups of blocks or an MPI rank works on: because a range starts and ends at
/// block boundaries, its blocks are exactly the blocks of the smaller problem of its own coordinates split into
/// <see cref="Segments"/> (<see cref="Slice"/>), so they can be built, queried and updated on their own.
/// </summary>
/// <param name="FirstBlock">Index of the first block in the layout.</param>
/// <param name="BlockCount">Number of blocks (0 = an empty range).</param>
/// <param name="Start">First coordinate.</param>
/// <param name="Length">Number of coordinates.</param>
public readonly record struct BlockRange(int FirstBlock, int BlockCount, int Start, int Length)
{
    /// <summary>One past the last coordinate.</summary>
    public int End => Start + Length;

    /// <summary>True when the range holds no block.</summary>
    public bool IsEmpty => BlockCount == 0;

    /// <summary>The range of <paramref name="count"/> blocks of <paramref name="layout"/> from block <paramref name="firstBlock"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The blocks do not lie in the layout.</exception>
    public static BlockRange Of(BlockLayout layout, int firstBlock, int count)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (firstBlock < 0 || count < 0 || firstBlock > layout.Count - count)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"Blocks [{firstBlock}, {(long)firstBlock + count}) do not lie in a layout of {layout.Count} blocks.");
        }

        var start = firstBlock < layout.Count ? layout.Offset(firstBlock) : layout.Dimension;
        var end = firstBlock + count < layout.Count ? layout.Offset(firstBlock + count) : layout.Dimension;
        return new BlockRange(firstBlock, count, start, end - start);
    }

    /// <summary>
    /// Splits <paramref name="layout"/> into <paramref name="parts"/> contiguous ranges in order, balanced by
    /// <paramref name="cost"/> (of a block index): part k ends at the block boundary whose running cost is nearest to
    /// k/parts of the total, so no part exceeds total/parts by more than one block's cost. With more parts than blocks
    /// some ranges are empty. Deterministic: every caller with the same arguments gets the same ranges.
    /// </summary>
    /// <param name="layout">The blocks.</param>
    /// <param name="parts">Number of ranges (≥ 1).</param>
    /// <param name="cost">Cost of block b (≥ 0, finite), e.g. its flops or bytes.</param>
    public static BlockRange[] Balance(BlockLayout layout, int parts, Func<int, double> cost)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(cost);
        ArgumentOutOfRangeException.ThrowIfLessThan(parts, 1);
        var prefix = new double[layout.Count + 1];
        for (var b = 0; b < layout.Count; b++)
        {
            var c = cost(b);
            if (!(c >= 0) || !double.IsFinite(c))
            {
                throw new ArgumentOutOfRangeException(nameof(cost), c, $"The cost of block {b} must be finite and non-negative.");
            }

            prefix[b + 1] = prefix[b] + c;
        }

        var total = prefix[^1];
        var ranges = new BlockRange[parts];
        var first = 0;
        for (var k = 0; k < parts; k++)
        {
            var end = layout.Count;
            if (k < parts - 1)
            {
                var target = total * (k + 1) / parts;
                end = first;
                while (end < layout.Count && prefix[end + 1] <= target)
                {
                    end++;
                }

                // The boundary just past the target when it is nearer than the one before it.
                if (end < layout.Count && prefix[end + 1] - target < target - prefix[end])
                {
                    end++;
                }
            }

            ranges[k] = Of(layout, first, end - first);
            first = end;
        }

        return ranges;
    }

    /// <summary>
    /// The segment lengths of the range's coordinates: the layout's segments cut to [<see cref="Start"/>,
    /// <see cref="End"/>) (empty for an empty range).
    /// </summary>
    public int[] Segments(BlockLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var pieces = new List<int>();
        var start = 0;
        foreach (var s in layout.Segments)
        {
            var lo = Math.Max(start, Start);
            var hi = Math.Min(start + s, End);
            if (hi > lo)
            {
                pieces.Add(hi - lo);
            }

            start += s;
        }

        return [.. pieces];
    }

    /// <summary>
    /// The layout of the range's own coordinates (d = <see cref="Length"/>, the same block size, <see cref="Segments"/>):
    /// its block i is block <see cref="FirstBlock"/> + i of <paramref name="layout"/>, shifted by <see cref="Start"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The range is empty.</exception>
    public BlockLayout Slice(BlockLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (IsEmpty)
        {
            throw new InvalidOperationException("An empty block range has no layout.");
        }

        return BlockLayout.Create(Length, layout.BlockSize, Segments(layout));
    }
}
