namespace WoodFisher.Kernels;

/// <summary>
/// The removal set Q of a joint OBS update, per block: block b removes the q_b coordinates
/// <see cref="Local(int)"/> (local indices, ascending). Entries e (removed coordinates, grouped by block in block order)
/// and the c_b × q_b columns [F⁻¹]_{b, Q_b} have global offsets, so a group of consecutive blocks [first, last)
/// occupies one contiguous range of each: entries [EntryStart(first), EntryStart(last)) and column elements
/// [ColumnStart(first), ColumnStart(last)).
/// </summary>
public sealed class JointObsPlan
{
    private readonly int[] _entryStart;
    private readonly long[] _columnStart;

    private JointObsPlan(BlockLayout layout, int[] entryStart, int[] local, long[] columnStart)
    {
        Layout = layout;
        _entryStart = entryStart;
        LocalIndices = local;
        _columnStart = columnStart;
    }

    /// <summary>The block partition.</summary>
    public BlockLayout Layout { get; }

    /// <summary>Removed coordinates in all blocks, |Q|.</summary>
    public int Count => _entryStart[^1];

    /// <summary>Local index (within its block) of every entry, blocks in order.</summary>
    internal int[] LocalIndices { get; }

    /// <summary>q_b = |Q ∩ block b|.</summary>
    public int Size(int block) => _entryStart[block + 1] - _entryStart[block];

    /// <summary>Local indices of Q ∩ block b, ascending.</summary>
    public ReadOnlySpan<int> Local(int block) => LocalIndices.AsSpan(_entryStart[block], Size(block));

    /// <summary>First entry of block b (b may be <see cref="BlockLayout.Count"/>: the total).</summary>
    public int EntryStart(int block) => _entryStart[block];

    /// <summary>Offset of block b's c_b × q_b columns (b may be <see cref="BlockLayout.Count"/>: the total).</summary>
    public long ColumnStart(int block) => _columnStart[block];

    /// <summary>Builds the plan of the pruned coordinates: <paramref name="mask"/> (length d) true = kept, false = pruned (in Q).</summary>
    public static JointObsPlan Create(BlockLayout layout, ReadOnlySpan<bool> mask)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (mask.Length != layout.Dimension)
        {
            throw new ArgumentException($"The mask must have length d = {layout.Dimension}, got {mask.Length}.", nameof(mask));
        }

        var nb = layout.Count;
        var entryStart = new int[nb + 1];
        var columnStart = new long[nb + 1];
        var count = 0;
        foreach (var kept in mask)
        {
            count += kept ? 0 : 1;
        }

        var local = new int[count];
        var e = 0;
        for (var b = 0; b < nb; b++)
        {
            entryStart[b] = e;
            var off = layout.Offset(b);
            var c = layout.Size(b);
            for (var i = 0; i < c; i++)
            {
                if (!mask[off + i])
                {
                    local[e++] = i;
                }
            }

            long q = e - entryStart[b];
            columnStart[b + 1] = columnStart[b] + (q * c);
        }

        entryStart[nb] = e;
        return new JointObsPlan(layout, entryStart, local, columnStart);
    }

    /// <summary>
    /// Consecutive block ranges [first, last) covering every block with a non-empty Q, each holding at most
    /// <paramref name="maxElements"/> elements of columns [F⁻¹]_{b, Q_b} (Σ c_b·q_b; a single larger block forms a group
    /// of its own), so the gathered columns stay a bounded working set.
    /// </summary>
    public IEnumerable<(int First, int Last)> Groups(long maxElements)
    {
        var nb = Layout.Count;
        var b = 0;
        while (b < nb)
        {
            while (b < nb && Size(b) == 0)
            {
                b++;
            }

            if (b == nb)
            {
                yield break;
            }

            var first = b;
            b++;
            while (b < nb && _columnStart[b + 1] - _columnStart[first] <= maxElements)
            {
                b++;
            }

            yield return (first, b);
        }
    }
}
