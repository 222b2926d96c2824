using WoodFisher.Kernels;

namespace WoodFisher.Distributed;

/// <summary>
/// Which blocks each rank owns: the WoodFisher block layout of the whole problem (d coordinates, blocks of c restarting
/// at each segment) cut into one contiguous <see cref="BlockRange"/> per rank, in rank order, balanced by each block's
/// build cost (<see cref="BlockCost"/>). Every rank computes the same plan from the same arguments, so no message is
/// needed to agree on it. A rank's blocks are exactly the blocks of its own coordinates as a smaller problem
/// (<see cref="BlockRange.Slice"/>), which it builds, scores and updates alone.
/// </summary>
public sealed class RankPlan
{
    private RankPlan(BlockLayout layout, BlockRange[] ranges, WoodburyStrategy strategy, long gradients)
    {
        Layout = layout;
        Ranges = ranges;
        Strategy = strategy;
        Gradients = gradients;
    }

    /// <summary>The blocks of the whole problem.</summary>
    public BlockLayout Layout { get; }

    /// <summary>One range per rank, in rank order, tiling [0, d).</summary>
    public IReadOnlyList<BlockRange> Ranges { get; }

    /// <summary>Number of ranks.</summary>
    public int Size => Ranges.Count;

    /// <summary>
    /// The Woodbury strategy every rank uses: <see cref="WoodburyStrategy.Auto"/> resolved once for the whole problem by
    /// <see cref="StrategyCostModel.Default"/> (as <see cref="WoodFisherBuilder"/> does when every strategy fits the memory
    /// budget), so no rank chooses differently from the single-process run because of the blocks it happens to hold.
    /// </summary>
    public WoodburyStrategy Strategy { get; }

    /// <summary>Gradients m that enter the inverse (after mini-batch averaging); 0 when no gradients are read.</summary>
    public long Gradients { get; }

    /// <summary>The range of <paramref name="rank"/>.</summary>
    public BlockRange this[int rank] => Ranges[rank];

    /// <summary>Coordinates per rank (the counts of a gather of length-d vectors by ranges).</summary>
    public long[] Lengths() => [.. Ranges.Select(r => (long)r.Length)];

    /// <summary>
    /// The plan for <paramref name="ranks"/> ranks.
    /// </summary>
    /// <param name="dimension">d.</param>
    /// <param name="segments">Segment (layer) lengths summing to d; null = one segment.</param>
    /// <param name="blockSize">c.</param>
    /// <param name="gradients">m, the gradients that enter after mini-batch averaging (0 for magnitude pruning).</param>
    /// <param name="ranks">Number of ranks.</param>
    /// <param name="strategy">The requested strategy (Auto is resolved here for the whole problem).</param>
    /// <param name="precision">Storage precision of the blocks.</param>
    public static RankPlan Create(int dimension, IReadOnlyList<int>? segments, int blockSize, long gradients, int ranks, WoodburyStrategy strategy = WoodburyStrategy.Auto, Precision precision = Precision.Float32)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(gradients);
        var layout = BlockLayout.Create(dimension, blockSize, segments);
        var resolved = strategy != WoodburyStrategy.Auto ? strategy
            : gradients > 0 ? StrategyCostModel.Default.Choose(layout, gradients, precision) : WoodburyStrategy.Dense;
        var ranges = BlockRange.Balance(layout, ranks, b => BlockCost(layout.Size(b), gradients, resolved, precision));
        return new RankPlan(layout, ranges, resolved, gradients);
    }

    /// <summary>
    /// The cost of building one block of c coordinates from m gradients: its modelled time
    /// (<see cref="StrategyCostModel.Cost(WoodburyStrategy, int, long, Precision)"/>), or c when no gradients are read.
    /// Memory (c² elements) grows with it, so balancing one balances the other.
    /// </summary>
    public static double BlockCost(int c, long m, WoodburyStrategy strategy, Precision precision = Precision.Float32) =>
        m == 0 ? c : StrategyCostModel.Default.Cost(strategy, c, m, precision);

    /// <summary>
    /// Checks that <paramref name="comm"/> has as many ranks as the plan; the message says how to launch.
    /// </summary>
    public void CheckRanks(ICommunicator comm)
    {
        ArgumentNullException.ThrowIfNull(comm);
        if (comm.Size != Size)
        {
            throw new ArgumentException($"The plan is for {Size} ranks but the communicator has {comm.Size}.", nameof(comm));
        }
    }
}
