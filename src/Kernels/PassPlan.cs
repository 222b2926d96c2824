using System.Globalization;

namespace WoodFisher.Kernels;

/// <summary>
/// How a WoodFisher build over a <see cref="BlockLayout"/> fits the memory budget: the layout cut into consecutive groups
/// of blocks (<see cref="BlockRange"/>s), each built from a slab of G's columns, and whether the groups stay resident
/// (<see cref="TwoPass"/> false: one pass builds them all) or are built, scored and dropped one at a time and rebuilt for
/// the update (true: two passes over G). The working set is stated in bytes before any work: blocks, read buffers,
/// builder scratch and the caller's per-weight vectors.
/// </summary>
/// <remarks>
/// <para>In memory (<see cref="TwoPass"/> false) every block stays resident after one pass. From a file (G's columns
/// readable directly) the groups are built one after another, each from its slab (m rows × its columns) read in pieces of
/// <see cref="PieceRows"/> rows, two pieces in memory at once (one being built from, one being read), so G is never whole
/// in memory. Any other source (gradients computed by a model) yields whole rows, <see cref="ChunkRows"/> at a time
/// (at most <see cref="GradientChunkShare"/> of the budget): when a chunk holds a whole builder panel, one group of all
/// blocks takes them (the working set is the builder's own estimate, <see cref="WoodFisherBuilder.EstimateBytes"/>, plus
/// the chunk); otherwise the groups stay resident and each is built from its own pass over the rows. In two passes the
/// groups are read the same way and only the group being built is resident, so the budget bounds the largest group.
/// Where G's columns can be read directly (a file), groups are sized for reading (about <see cref="SlabBytes"/> per
/// piece, at least a few blocks per core); where every group costs a pass over the whole source, groups are as large as
/// the budget allows. When even groups of one block do not fit, <see cref="Create"/> refuses with the numbers.</para>
/// </remarks>
public sealed class PassPlan
{
    /// <summary>Default bytes of one read piece (a slab of G's rows restricted to one group's columns).</summary>
    public const long DefaultSlabBytes = 64L << 20;

    /// <summary>Most float32 entries of whole rows held at once while a source that cannot seek is streamed for one group (16 MiB; at least one row), when no budget sets <see cref="ChunkRows"/>.</summary>
    public const long RowBufferElements = 1 << 22;

    /// <summary>
    /// Share of the budget the whole gradient rows produced at once by a source that cannot seek (a model's autograd) may
    /// take: <see cref="ChunkRows"/> × d × 4 bytes ≤ this share of <see cref="Budget"/> (at least one row).
    /// </summary>
    public const double GradientChunkShare = 0.125;

    private PassPlan(BlockLayout layout, long rows, Precision precision, WoodburyStrategy strategy, int panelRows, BlockRange[] groups, int pieceRows, bool twoPass, bool slabs, long budget, long vectorBytes, long slabBytes, bool seekable, long? factorBytes = null)
    {
        FactorBytes = factorBytes;
        Layout = layout;
        Rows = rows;
        Precision = precision;
        Strategy = strategy;
        Groups = groups;
        PieceRows = pieceRows;
        PanelRows = panelRows;
        TwoPass = twoPass;
        ReadsSlabs = slabs;
        Budget = budget;
        VectorBytes = vectorBytes;
        SlabBytes = slabBytes;
        Seekable = seekable;
        ChunkRows = ChunkRowsFor(layout.Dimension, pieceRows, budget);
        var element = ElementBytes(precision);
        var chunkBytes = MemoryBudget.Product(ChunkRows, layout.Dimension, sizeof(float));
        if (!slabs)
        {
            // One pass streaming whole rows into all blocks: the builder's estimate (blocks, panel, per-thread workspace)
            // and a float32 buffer of one chunk of rows.
            BlockBytes = MemoryBudget.Product(layout.SquareLength, element);
            ScratchBytes = Math.Max(0, WoodFisherBuilder.EstimateBytes(layout.Dimension, BuildOptions(layout, precision, strategy, layout.Segments), rows) - BlockBytes);
            ReadBytes = chunkBytes;
            if (factorBytes is { } factors)
            {
                // Rows given as factors: no kept rows and no chunk buffer, but each core multiplies out one SYRK panel of a
                // block's rows at a time, with the gather window that fills it.
                ScratchBytes = MemoryBudget.Sum(Math.Max(0, ScratchBytes - DenseStrategy.Bytes(layout, precision, rows)),
                    MemoryBudget.Product(Environment.ProcessorCount, DenseStrategy.FactorScratchRows(rows), layout.BlockSize, sizeof(float)));
                ReadBytes = factors;
            }
        }
        else
        {
            long largest = 0;
            long widest = 0;
            foreach (var g in groups)
            {
                largest = Math.Max(largest, GroupBlockBytes(layout, g, element));
                widest = Math.Max(widest, g.Length);
            }

            // Resident blocks: all of them in one pass, the largest group in two.
            BlockBytes = twoPass ? largest : MemoryBudget.Product(layout.SquareLength, element);
            ReadBytes = MemoryBudget.Product(2, pieceRows, widest, sizeof(float));
            if (!seekable)
            {
                // Whole rows are streamed through a buffer of one chunk of rows.
                ReadBytes = MemoryBudget.Sum(ReadBytes, chunkBytes);
            }

            ScratchBytes = groups.Max(g => BuilderScratch(layout, g, precision, strategy, PanelRows));
        }

        TotalBytes = MemoryBudget.Sum(BlockBytes, ReadBytes, ScratchBytes, VectorBytes);
    }

    /// <summary>The blocks of the whole problem.</summary>
    public BlockLayout Layout { get; }

    /// <summary>
    /// Bytes of the gradient rows held as factors (<see cref="IGradientRowFactors"/>) when the one builder of all blocks
    /// takes them so (<see cref="WoodFisherBuilder.TakesFactors"/>), else null.
    /// </summary>
    public long? FactorBytes { get; }

    /// <summary>Raw gradient rows m read per pass (before mini-batch averaging).</summary>
    public long Rows { get; }

    /// <summary>Storage precision of the blocks.</summary>
    public Precision Precision { get; }

    /// <summary>
    /// The Woodbury strategy of every group: <see cref="WoodburyStrategy.Auto"/> resolved once for the whole layout, so a
    /// group of short tail blocks builds as the in-memory path would.
    /// </summary>
    public WoodburyStrategy Strategy { get; }

    /// <summary>Consecutive groups of blocks tiling the layout, in order.</summary>
    public IReadOnlyList<BlockRange> Groups { get; }

    /// <summary>Rows of G per read piece (m when a whole slab fits a piece; otherwise a multiple of <see cref="PanelRows"/>).</summary>
    public int PieceRows { get; }

    /// <summary>
    /// Rows per builder panel, the whole layout's (<see cref="WoodFisherBuilder.PanelRows"/>): every group's builder gets
    /// the rows in chunks of this many, as one builder of all blocks would, so the blocks come out the same bits.
    /// </summary>
    public int PanelRows { get; }

    /// <summary>
    /// True when the groups are built from slabs of G's columns read by a background thread (a file, or any two-pass plan);
    /// false when one builder of all blocks takes whole rows.
    /// </summary>
    public bool ReadsSlabs { get; }

    /// <summary>True when the groups are built, scored and dropped, then rebuilt for the update (two passes over G).</summary>
    public bool TwoPass { get; }

    /// <summary>True when a group's columns of G can be read without a pass over the whole source (a file).</summary>
    public bool Seekable { get; }

    /// <summary>
    /// Whole gradient rows a source that cannot seek (a model's autograd) produces at once, each pass over it: at most
    /// <see cref="GradientChunkShare"/> of the budget (rows × d × 4 bytes), at least one row, at most one piece.
    /// </summary>
    public int ChunkRows { get; }

    /// <summary>The budget the plan was made for (bytes).</summary>
    public long Budget { get; }

    /// <summary>Bytes of the target size of one read piece.</summary>
    public long SlabBytes { get; }

    /// <summary>Blocks resident at the peak: all of them in memory, the largest group in two passes.</summary>
    public long BlockBytes { get; }

    /// <summary>The two read pieces (float32): one being built from, one being read.</summary>
    public long ReadBytes { get; }

    /// <summary>The largest group's builder workspace (row panel, Gram matrices of the dense strategy, per-thread buffers).</summary>
    public long ScratchBytes { get; }

    /// <summary>The caller's per-weight vectors (weights, scores, mask, diagonal, …), as passed to <see cref="Create"/>.</summary>
    public long VectorBytes { get; }

    /// <summary>The whole working set: blocks + read buffers + scratch + vectors.</summary>
    public long TotalBytes { get; }

    /// <summary>
    /// Plans the build of <paramref name="layout"/> from <paramref name="rows"/> gradient rows within
    /// <paramref name="budget"/> (default <see cref="MemoryBudget.Limit"/>).
    /// </summary>
    /// <param name="layout">The blocks.</param>
    /// <param name="rows">Raw gradient rows m (≥ 1).</param>
    /// <param name="options">Precision, strategy and mini-batch of the build (its block size and segments are the layout's).</param>
    /// <param name="vectorBytes">Bytes the caller holds beside the inverse (per-weight vectors), counted in the working set.</param>
    /// <param name="seekable">True when a group's columns can be read without a pass over the whole source (a file):
    /// groups are then sized for reading; false sizes them as large as the budget allows, since each costs a pass.</param>
    /// <param name="budget">Bytes available; null = <see cref="MemoryBudget.Limit"/>.</param>
    /// <param name="slabBytes">Target bytes of one read piece; null = <see cref="DefaultSlabBytes"/>.</param>
    /// <param name="factorBytes">Bytes of the rows as factors when the source can give them so
    /// (<see cref="IGradientRowFactors"/>), else null.</param>
    /// <exception cref="InsufficientMemoryException">Even two passes over groups of one block do not fit: the message
    /// gives the bytes of the smallest working set and the budget.</exception>
    public static PassPlan Create(BlockLayout layout, long rows, WoodFisherOptions options, long vectorBytes, bool seekable = true, long? budget = null, long? slabBytes = null,
        long? factorBytes = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(vectorBytes);
        var limit = budget ?? MemoryBudget.Limit;
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1, nameof(budget));
        var slab = slabBytes ?? DefaultSlabBytes;
        ArgumentOutOfRangeException.ThrowIfLessThan(slab, 1, nameof(slabBytes));
        var m = (rows + options.MiniBatch - 1) / options.MiniBatch;
        var strategy = options.Strategy != WoodburyStrategy.Auto ? options.Strategy : StrategyCostModel.Default.Choose(layout, m, options.Precision);

        // In memory: one pass, all blocks resident. From a file, groups of blocks are built from column slabs read a piece
        // ahead of the build (bounded buffers; G is never whole in memory); otherwise one builder takes whole rows.
        var element = ElementBytes(options.Precision);
        var panel = WoodFisherBuilder.PendingRows(layout, WoodFisherBuilder.ReadsRowsInPlace(strategy, options.Precision, options.MiniBatch));
        var (readGroups, pieceRows) = ReadGroups(layout, rows, slab, Environment.ProcessorCount, panel);
        if (!seekable)
        {
            // Rows streamed from the start for every group: pieces of one panel (whole panels, the fewest bytes).
            pieceRows = (int)Math.Min(panel, rows);
        }

        // A Dense float32 build takes the rows as factors when the source has them (one builder of all blocks).
        var factored = !seekable && factorBytes is not null && strategy == WoodburyStrategy.Dense && options.Precision == Precision.Float32
            && options.MiniBatch == 1;
        var inMemory = seekable
            ? new PassPlan(layout, rows, options.Precision, strategy, panel, readGroups, pieceRows, false, true, limit, vectorBytes, slab, seekable)
            : new PassPlan(layout, rows, options.Precision, strategy, panel, [BlockRange.Of(layout, 0, layout.Count)], pieceRows, false, false, limit, vectorBytes, slab, seekable,
                factored ? factorBytes : null);
        // A source that cannot seek streams whole rows into one builder only when a chunk holds a whole panel of rows:
        // every builder then sees the same panels, straight from the rows.
        if (inMemory.TotalBytes <= limit && (seekable || inMemory.FactorBytes is not null || inMemory.ChunkRows == pieceRows))
        {
            return inMemory;
        }

        // Groups no wider than for reading (a source that cannot seek pays a pass per group, so for it as wide as the budget
        // allows), halving their block bytes until the working set fits: for a source that cannot seek first with every
        // block resident (one pass per group: only the row panel and pieces shrink), then in two passes. Every builder
        // takes the rows in chunks of the whole layout's panel height, so each block is built from the same row chunks
        // either way: the same bits.
        var columns = seekable ? readGroups.Max(g => (long)g.Length) : layout.Dimension;
        PassPlan? candidate = null;
        bool[] modes = seekable ? [true] : [false, true];
        foreach (var twoPasses in modes)
        {
            for (var bytes = MemoryBudget.Product(layout.SquareLength, element); ; bytes /= 2)
            {
                var groups = Cut(layout, columns, element, Math.Max(1, bytes));
                candidate = new PassPlan(layout, rows, options.Precision, strategy, panel, groups, pieceRows, twoPasses, true, limit, vectorBytes, slab, seekable);
                if (candidate.TotalBytes <= limit)
                {
                    return candidate;
                }

                if (groups.Length == layout.Count)
                {
                    break;
                }
            }
        }

        var twoPass = candidate!;
        throw MemoryBudget.Exceeded(twoPass.TotalBytes, limit,
            $"prune: d = {layout.Dimension:N0} weights and their inverse curvature (blocks of c = {layout.BlockSize:N0}, m = {rows:N0} gradients), even in two passes over groups of one block ({twoPass.Describe()}),",
            "Use a smaller block size (--block), float32 (--precision), fewer weights, or a larger --memory.");
    }

    /// <summary>Bytes of the blocks of <paramref name="group"/> stored with <paramref name="element"/> bytes per entry.</summary>
    public static long GroupBlockBytes(BlockLayout layout, BlockRange group, long element)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var end = group.FirstBlock + group.BlockCount;
        var squares = (end < layout.Count ? layout.SquareOffset(end) : layout.SquareLength) - layout.SquareOffset(group.FirstBlock);
        return MemoryBudget.Product(squares, element);
    }

    /// <summary>
    /// One line for a console: the mode, the groups and the bytes of the working set, e.g.
    /// "two passes over 98 groups of blocks; working set 1.2 GiB = blocks 512 MiB + read buffers 128 MiB + scratch 80 MiB + vectors 500 MiB, budget 8 GiB".
    /// </summary>
    public string Describe()
    {
        var mode = TwoPass ? $"two passes over {Groups.Count:N0} groups of blocks (built, scored and dropped; rebuilt for the update)"
            : ReadsSlabs && Seekable ? $"in memory, {Groups.Count:N0} group{(Groups.Count == 1 ? "" : "s")} of blocks built from G streamed by column slabs ({PieceRows:N0} rows a piece, read ahead of the build)"
            : ReadsSlabs ? $"in memory, {Groups.Count:N0} groups of blocks, one pass over the gradients each"
            : FactorBytes is not null ? "in memory, one group of all blocks"
            : "in memory, one group of all blocks from whole rows";
        var chunks = Seekable ? "" : FactorBytes is { } f ? $", gradients held as factors ({MemoryBudget.Human(f)})" : $", gradients produced {ChunkRows:N0} row{(ChunkRows == 1 ? "" : "s")} of d = {Layout.Dimension:N0} at a time ({MemoryBudget.Human(MemoryBudget.Product(ChunkRows, Layout.Dimension, sizeof(float)))})";
        return string.Create(CultureInfo.InvariantCulture,
            $"{mode}{chunks}; working set {MemoryBudget.Human(TotalBytes)} = blocks {MemoryBudget.Human(BlockBytes)} + read buffers {MemoryBudget.Human(ReadBytes)} + scratch {MemoryBudget.Human(ScratchBytes)} + vectors {MemoryBudget.Human(VectorBytes)}, budget {MemoryBudget.Human(Budget)}");
    }

    /// <summary>Rows per chunk of whole gradient rows: <see cref="GradientChunkShare"/> of <paramref name="budget"/>, in [1, <paramref name="pieceRows"/>].</summary>
    internal static int ChunkRowsFor(int dimension, int pieceRows, long budget) =>
        (int)Math.Clamp((long)(budget * GradientChunkShare) / (sizeof(float) * (long)dimension), 1, Math.Max(1, pieceRows));

    /// <summary>Groups of consecutive blocks whose read pieces hold about <paramref name="slab"/> bytes, with at least 4 blocks per core when m allows.</summary>
    private static (BlockRange[] Groups, int PieceRows) ReadGroups(BlockLayout layout, long rows, long slab, int cores, int panel)
    {
        // Columns per group: a whole slab (m rows) in one piece when it fits; never fewer than 4 blocks per core, whose
        // pieces then hold fewer rows.
        var minColumns = (long)layout.BlockSize * 4 * cores;
        var columns = Math.Max(minColumns, slab / (sizeof(float) * rows));
        var groups = Cut(layout, columns, 1, long.MaxValue);
        var widest = groups.Max(g => (long)g.Length);
        var pieceRows = (int)Math.Clamp(slab / (sizeof(float) * widest), 1, Math.Min(rows, int.MaxValue));
        if (pieceRows < rows)
        {
            // Whole builder panels per piece, so no panel straddles two pieces.
            pieceRows = (int)Math.Min(rows, Math.Max(panel, pieceRows / panel * panel));
        }

        return (groups, pieceRows);
    }

    /// <summary>
    /// Consecutive groups of blocks, each within <paramref name="columns"/> columns and <paramref name="bytes"/> bytes of
    /// blocks (a single block beyond either forms a group alone).
    /// </summary>
    internal static BlockRange[] Cut(BlockLayout layout, long columns, long element, long bytes)
    {
        var groups = new List<BlockRange>();
        var first = 0;
        while (first < layout.Count)
        {
            var end = first + 1;
            long squares = (long)layout.Size(first) * layout.Size(first);
            while (end < layout.Count)
            {
                var c = (long)layout.Size(end);
                if ((long)layout.Offset(end) + c - layout.Offset(first) > columns || MemoryBudget.Product(squares + (c * c), element) > bytes)
                {
                    break;
                }

                squares += c * c;
                end++;
            }

            groups.Add(BlockRange.Of(layout, first, end - first));
            first = end;
        }

        return [.. groups];
    }

    private static long BuilderScratch(BlockLayout layout, BlockRange group, Precision precision, WoodburyStrategy strategy, int panelRows)
    {
        var slice = group.Slice(layout);
        var all = MemoryEstimate.Bytes(slice, precision, strategy, panelRows);
        return Math.Max(0, all - MemoryBudget.Product(slice.SquareLength, ElementBytes(precision)));
    }

    private static WoodFisherOptions BuildOptions(BlockLayout layout, Precision precision, WoodburyStrategy strategy, IReadOnlyList<int> segments) =>
        new() { BlockSize = layout.BlockSize, Segments = segments, Precision = precision, Strategy = strategy, Damping = 1 };

    private static long ElementBytes(Precision precision) => precision == Precision.Float32 ? 4L : 8L;
}
