namespace WoodFisher.Kernels.Tests;

/// <summary>
/// 64-bit offsets at the boundaries, without allocating the sizes: layouts of d up to 2³¹ − 1 with Σc² far beyond 2³¹,
/// the joint-update plan's column offsets beyond 2³¹, ranges and plans of groups of blocks. Oracle: closed forms in
/// long (or BigInteger-free decimal) arithmetic written out in the tests.
/// </summary>
public class ScaleIndexTests
{
    [Test]
    public void Layout_AtTheLargestDimension_HasExactLongOffsets()
    {
        const int d = int.MaxValue;
        const int c = 1000;
        var layout = BlockLayout.Create(d, c);
        const int count = (d / c) + 1;
        const int last = d - ((count - 1) * c);
        Assert.Multiple(() =>
        {
            Assert.That(layout.Count, Is.EqualTo(count));
            Assert.That(layout.Size(count - 1), Is.EqualTo(last));
            Assert.That(layout.Offset(count - 1), Is.EqualTo((count - 1) * c));
            Assert.That(layout.SquareOffset(count - 1), Is.EqualTo((long)(count - 1) * c * c), "beyond 2³¹ by a factor of 1,000");
            Assert.That(layout.SquareLength, Is.EqualTo(((long)(count - 1) * c * c) + ((long)last * last)));
            Assert.That(layout.Locate(d - 1), Is.EqualTo((count - 1, last - 1)));
            Assert.That(layout.Locate((count - 1) * c), Is.EqualTo((count - 1, 0)));
            Assert.That(layout.Locate((count - 1) * c - 1), Is.EqualTo((count - 2, c - 1)));
        });
    }

    [Test]
    public void Layout_SegmentsAcrossTwoToThe30_RestartBlocks()
    {
        const int first = 1 << 30;
        const int second = int.MaxValue - first;
        const int c = 4096;
        var layout = BlockLayout.Create(int.MaxValue, c, [first, second]);
        var firstBlocks = first / c;
        var secondBlocks = (second + c - 1) / c;
        var lastSize = second - ((secondBlocks - 1) * c);
        Assert.Multiple(() =>
        {
            Assert.That(layout.Count, Is.EqualTo(firstBlocks + secondBlocks));
            Assert.That(layout.Offset(firstBlocks), Is.EqualTo(first), "a block starts at the segment boundary");
            Assert.That(layout.SquareOffset(firstBlocks), Is.EqualTo((long)firstBlocks * c * c));
            Assert.That(layout.SquareLength, Is.EqualTo(((long)(firstBlocks + secondBlocks - 1) * c * c) + ((long)lastSize * lastSize)));
        });
    }

    [Test]
    public void JointObsPlan_ColumnOffsets_PassTwoToThe31()
    {
        // Every coordinate pruned: Σ c·q_b = d·c = 2.2·10⁹ > 2³¹ − 1, with 8.8 MB of local indices.
        const int d = 2_200_000;
        const int c = 1000;
        var layout = BlockLayout.Create(d, c);
        var plan = JointObsPlan.Create(layout, new bool[d]);
        var groups = plan.Groups(JointObsUpdate.GroupElements).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(plan.Count, Is.EqualTo(d));
            Assert.That(plan.ColumnStart(layout.Count), Is.EqualTo((long)d * c));
            Assert.That(plan.ColumnStart(layout.Count - 1), Is.EqualTo((long)(layout.Count - 1) * c * c));
            Assert.That(groups[0].First, Is.Zero);
            Assert.That(groups[^1].Last, Is.EqualTo(layout.Count));
            Assert.That(groups.Zip(groups.Skip(1)).All(p => p.First.Last == p.Second.First), Is.True, "groups tile the blocks");
            Assert.That(groups.All(g => plan.ColumnStart(g.Last) - plan.ColumnStart(g.First) <= JointObsUpdate.GroupElements), Is.True, "each gathered group fits one array");
        });
    }

    [Test]
    public void BlockRange_OfTheLastBlocks_OfTheLargestLayout()
    {
        var layout = BlockLayout.Create(int.MaxValue, 1000);
        var range = BlockRange.Of(layout, layout.Count - 3, 3);
        Assert.Multiple(() =>
        {
            Assert.That(range.Start, Is.EqualTo((layout.Count - 3) * 1000));
            Assert.That(range.End, Is.EqualTo(int.MaxValue));
            Assert.That(range.Segments(layout), Is.EqualTo(new[] { range.Length }));
            Assert.That(range.Slice(layout).SquareLength, Is.EqualTo((2L * 1000 * 1000) + (647L * 647)));
            Assert.That(PassPlan.GroupBlockBytes(layout, BlockRange.Of(layout, 0, layout.Count), 4), Is.EqualTo(layout.SquareLength * 4));
            Assert.That(() => BlockRange.Of(layout, layout.Count - 1, 2), Throws.TypeOf<ArgumentOutOfRangeException>());
        });
    }

    [Test]
    public void BlockRange_Balance_TilesInOrder_WithinOneBlockOfTheShare()
    {
        var layout = BlockLayout.Create(1000, 30, [100, 900]);
        var ranges = BlockRange.Balance(layout, 4, b => layout.Size(b));
        Assert.Multiple(() =>
        {
            Assert.That(ranges[0].FirstBlock, Is.Zero);
            Assert.That(ranges.Zip(ranges.Skip(1)).All(p => p.First.FirstBlock + p.First.BlockCount == p.Second.FirstBlock && p.First.End == p.Second.Start), Is.True);
            Assert.That(ranges[^1].End, Is.EqualTo(1000));
            Assert.That(ranges.All(r => Math.Abs(r.Length - 250) <= 30), Is.True, string.Join(", ", ranges));
            Assert.That(ranges[0].Segments(layout), Is.EqualTo(new[] { 100, ranges[0].Length - 100 }), "a range across the segment boundary keeps it");
        });
    }

    // The targets planned, nothing allocated: ResNet-50 size at c = 2,000 in 8 GiB goes two-pass with every
    // group's blocks within the budget; d = 10⁷, c = 256 in memory holds d·c·4 bytes of blocks.
    [Test]
    public void PassPlan_ResNet50Size_InEightGiB_IsTwoPass()
    {
        var layout = BlockLayout.Create(25_557_032, 2000);
        var options = new WoodFisherOptions { BlockSize = 2000, Damping = 1e-5 };
        var budget = 8L << 30;
        var plan = PassPlan.Create(layout, 128, options, vectorBytes: 25_557_032L * 64, budget: budget);
        Assert.Multiple(() =>
        {
            Assert.That(plan.TwoPass, Is.True, plan.Describe());
            Assert.That(plan.TotalBytes, Is.LessThanOrEqualTo(budget));
            Assert.That(plan.Groups.Sum(g => (long)g.Length), Is.EqualTo(25_557_032L));
            Assert.That(plan.Groups.Max(g => PassPlan.GroupBlockBytes(layout, g, 4)), Is.EqualTo(plan.BlockBytes));
            Assert.That(plan.Describe(), Does.Contain("two passes").And.Contain("budget 8"));
        });

    }

    // d = 10⁷, c = 256, m = 64 from a file: in memory, d·c·4 bytes of blocks, G streamed by column slabs through two
    // pieces of at most 64 MiB (2.56 GB of G never whole), the whole working set within 12 GB with 64 B per weight beside
    // it. From a source that cannot read columns, one builder takes whole rows: a read buffer of all 64 rows.
    [Test]
    public void PassPlan_TenMillion_InMemory_StreamsGByColumnSlabs()
    {
        const int d = 10_000_000;
        var layout = BlockLayout.Create(d, 256);
        var options = new WoodFisherOptions { BlockSize = 256, Damping = 1e-5 };
        var plan = PassPlan.Create(layout, 64, options, vectorBytes: d * 64L, budget: 12_000_000_000);
        var rows = PassPlan.Create(layout, 64, options, vectorBytes: d * 64L, seekable: false, budget: long.MaxValue);
        var widest = plan.Groups.Max(g => (long)g.Length);
        Assert.Multiple(() =>
        {
            Assert.That(plan.TwoPass, Is.False, plan.Describe());
            Assert.That(plan.ReadsSlabs, Is.True);
            Assert.That(plan.BlockBytes, Is.EqualTo(((d / 256 * 256L * 256) + (d % 256 * (d % 256L))) * 4));
            Assert.That(plan.Groups, Has.Count.GreaterThan(1));
            Assert.That(plan.Groups.Sum(g => (long)g.Length), Is.EqualTo(d));
            Assert.That(plan.PieceRows, Is.EqualTo(64), "a whole slab (all m rows) per piece");
            Assert.That(plan.ReadBytes, Is.EqualTo(2 * 64 * widest * 4).And.LessThanOrEqualTo(2 * PassPlan.DefaultSlabBytes));
            Assert.That(plan.TotalBytes, Is.EqualTo(plan.BlockBytes + plan.ReadBytes + plan.ScratchBytes + plan.VectorBytes).And.LessThanOrEqualTo(12_000_000_000));
            Assert.That(plan.Describe(), Does.Contain("in memory").And.Contain("streamed by column slabs").And.Contain("read buffers 128 MiB"));
            Assert.That(rows.ReadsSlabs, Is.False);
            Assert.That(rows.Groups, Has.Count.EqualTo(1));
            Assert.That(rows.ReadBytes, Is.EqualTo(64L * d * 4));
        });
    }

    [Test]
    public void PassPlan_CutsGroupsWithinTheBytes_AndRefusesWithTheNumbers()
    {
        var layout = BlockLayout.Create(100_000, 100);
        var options = new WoodFisherOptions { BlockSize = 100, Damping = 1e-3, Precision = Precision.Float64 };
        var inMemory = PassPlan.Create(layout, 32, options, 0, budget: long.MaxValue);
        var twoPass = PassPlan.Create(layout, 32, options, 0, budget: inMemory.TotalBytes / 2);
        Assert.Multiple(() =>
        {
            Assert.That(inMemory.TwoPass, Is.False);
            Assert.That(twoPass.TwoPass, Is.True);
            Assert.That(twoPass.TotalBytes, Is.LessThanOrEqualTo(inMemory.TotalBytes / 2));
            Assert.That(twoPass.BlockBytes, Is.LessThan(inMemory.BlockBytes));
            Assert.That(twoPass.Groups.Zip(twoPass.Groups.Skip(1)).All(p => p.First.End == p.Second.Start), Is.True);
        });
        var refusal = Assert.Throws<InsufficientMemoryException>(() => PassPlan.Create(layout, 32, options, 0, budget: 10_000));
        Assert.That(refusal!.Message, Does.Contain("even in two passes").And.Contain("working set"));
    }
}
