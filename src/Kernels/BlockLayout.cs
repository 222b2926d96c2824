namespace WoodFisher.Kernels;

/// <summary>
/// Partition of d coordinates into consecutive blocks of at most c coordinates. With segments (the layers),
/// blocks restart at each segment boundary, so no block straddles two segments; the last block of a segment
/// may be shorter than c. Blocks are stored full (c_i × c_i, row-major) one after another.
/// </summary>
public sealed class BlockLayout
{
    private readonly int[] _offsets;
    private readonly int[] _sizes;
    private readonly long[] _squareOffsets;

    private BlockLayout(int dimension, int blockSize, int[] segments, int[] offsets, int[] sizes)
    {
        Dimension = dimension;
        BlockSize = blockSize;
        Segments = segments;
        _offsets = offsets;
        _sizes = sizes;
        _squareOffsets = new long[sizes.Length + 1];
        for (var b = 0; b < sizes.Length; b++)
        {
            _squareOffsets[b + 1] = _squareOffsets[b] + (long)sizes[b] * sizes[b];
        }
    }

    /// <summary>Total number of coordinates d.</summary>
    public int Dimension { get; }

    /// <summary>Nominal block size c (the largest block).</summary>
    public int BlockSize { get; }

    /// <summary>Segment lengths (the layers); a single segment of length d when none were given.</summary>
    public IReadOnlyList<int> Segments { get; }

    /// <summary>Number of blocks.</summary>
    public int Count => _sizes.Length;

    /// <summary>Total elements of all blocks stored full: Σ c_i².</summary>
    public long SquareLength => _squareOffsets[^1];

    /// <summary>First coordinate of block <paramref name="block"/>.</summary>
    public int Offset(int block) => _offsets[block];

    /// <summary>Number of coordinates c_i of block <paramref name="block"/>.</summary>
    public int Size(int block) => _sizes[block];

    /// <summary>Element offset of block <paramref name="block"/> in full (c_i × c_i row-major) storage.</summary>
    public long SquareOffset(int block) => _squareOffsets[block];

    /// <summary>The block holding coordinate <paramref name="index"/> and its position inside that block.</summary>
    public (int Block, int Local) Locate(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Dimension);
        var pos = Array.BinarySearch(_offsets, index);
        var block = pos >= 0 ? pos : ~pos - 1;
        return (block, index - _offsets[block]);
    }

    /// <summary>Creates the layout of <paramref name="dimension"/> coordinates in blocks of <paramref name="blockSize"/>.</summary>
    /// <param name="dimension">d ≥ 1.</param>
    /// <param name="blockSize">c ≥ 1; values above a segment's length give one block for that segment.</param>
    /// <param name="segments">Optional segment lengths, all ≥ 1, summing to d.</param>
    public static BlockLayout Create(int dimension, int blockSize, IReadOnlyList<int>? segments = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        if (blockSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "Block size c must be at least 1.");
        }

        int[] segs = segments is null ? [dimension] : [.. segments];
        long sum = 0;
        foreach (var s in segs)
        {
            if (s < 1)
            {
                throw new ArgumentException($"Segment lengths must be at least 1 (got {s}).", nameof(segments));
            }

            sum += s;
        }

        if (sum != dimension)
        {
            throw new ArgumentException($"Segment lengths sum to {sum}, but the dimension is {dimension}.", nameof(segments));
        }

        var offsets = new List<int>();
        var sizes = new List<int>();
        var start = 0;
        foreach (var s in segs)
        {
            // o in long: the step past the last block of a segment near 2³¹ − 1 would wrap an int.
            for (long o = 0; o < s; o += blockSize)
            {
                offsets.Add(start + (int)o);
                sizes.Add((int)Math.Min(blockSize, s - o));
            }

            start += s;
        }

        return new BlockLayout(dimension, Math.Min(blockSize, segs.Max()), segs, [.. offsets], [.. sizes]);
    }
}
