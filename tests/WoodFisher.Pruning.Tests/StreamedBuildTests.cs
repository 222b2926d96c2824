using WoodFisher.IO;
using WoodFisher.Kernels;
using WoodFisher.Models;

namespace WoodFisher.Pruning.Tests;

/// <summary>
/// The WoodFisher build from G streamed by column slabs (a background reader, two small piece buffers, groups of blocks)
/// against one builder of all blocks fed whole rows from memory: the same blocks, bit for bit.
/// </summary>
[NonParallelizable]
public class StreamedBuildTests
{
    // d is odd and large enough that the builder's panel is short (2²²/d = 29 rows), so m = 70 rows arrive as panels of
    // 29, 29 and 12; the segments leave short tail blocks; pieces of a 40,003-byte slab hold one panel each.
    private const int D = 140_001;
    private const int M = 70;
    private const int C = 40;
    private const long TinySlab = 40_003;
    private static readonly int[] Segments = [60_007, 79_994];

    private static float[] Rows() => [.. Oracle.RandomVector(new Random(17), M * D).Select(x => (float)x)];

    // Oracle: WoodFisherCurvature.FromGradients over the rows in memory (the builder the other tests check against
    // dense float64 inverses). Every block sees the same rows in the same panels either way, so equality is exact.
    [TestCase(WoodburyStrategy.RankK, Precision.Float32, true)]
    [TestCase(WoodburyStrategy.Rank1, Precision.Float64, true)]
    [TestCase(WoodburyStrategy.Dense, Precision.Float32, true)]
    [TestCase(WoodburyStrategy.Dense, Precision.Float64, false)]
    public void Streamed_EqualsTheInMemoryBuild_Exactly(WoodburyStrategy strategy, Precision precision, bool twoPass)
    {
        var g = Rows();
        var options = new WoodFisherOptions { BlockSize = C, Damping = 1e-2, Strategy = strategy, Precision = precision, Segments = Segments };
        using var whole = WoodFisherCurvature.FromGradients(new ArrayGradientSource(g, D, Segments), options);
        var layout = BlockLayout.Create(D, C, Segments);
        var inMemory = PassPlan.Create(layout, M, options, 0, seekable: true, budget: long.MaxValue, slabBytes: TinySlab);
        var plan = twoPass ? PassPlan.Create(layout, M, options, 0, seekable: true, budget: inMemory.TotalBytes - 1, slabBytes: TinySlab) : inMemory;

        var path = Path.Combine(Path.GetTempPath(), $"wf-streamed-{Guid.NewGuid():N}.npy");
        try
        {
            Npy.Write(path, g, M, D);
            using var file = new NpyGradientSource(path, Segments);
            using var streamed = GroupedWoodFisherCurvature.Build(file, options, plan);
            int[] lastBlock = [.. Enumerable.Range(D - (Segments[1] % C), Segments[1] % C)];
            int[] firstBlock = [.. Enumerable.Range(0, C)];
            Assert.Multiple(() =>
            {
                Assert.That(plan.ReadsSlabs, Is.True);
                Assert.That(plan.TwoPass, Is.EqualTo(twoPass), plan.Describe());
                Assert.That(plan.Groups, Has.Count.GreaterThan(10), "many groups, each from its own slab");
                Assert.That(plan.PanelRows, Is.EqualTo(29));
                Assert.That(plan.PieceRows, Is.EqualTo(29), "pieces of whole panels, smaller than m");
                Assert.That(streamed.Diagonal(), Is.EqualTo(whole.Diagonal()));
                Assert.That(streamed.SubMatrix(firstBlock), Is.EqualTo(whole.SubMatrix(firstBlock)));
                Assert.That(streamed.SubMatrix(lastBlock), Is.EqualTo(whole.SubMatrix(lastBlock)));
                Assert.That(streamed.WaitSeconds, Is.LessThanOrEqualTo(streamed.ReadSeconds + streamed.BuildSeconds + 60), "timings are recorded");
            });
        }
        finally
        {
            File.Delete(path);
        }
    }

    // Oracle: the same builder over the rows in memory. c = 400 with d > 2²²/200 gives rows read in place panels of c/2 =
    // 200 rows (taller than the float64 gathering's 96), so m = 250 arrives as 200 + 50 on both paths; two passes over
    // groups whose block arrays are recycled from group to group (and again for the update) must not change a bit.
    [Test]
    public void TallPanels_TwoPasses_EqualTheInMemoryBuild_AndUpdate()
    {
        const int d = 24_400, m = 250, c = 400;
        var g = Oracle.RandomVector(new Random(23), m * d).Select(x => (float)x).ToArray();
        var options = new WoodFisherOptions { BlockSize = c, Damping = 1e-2, Strategy = WoodburyStrategy.RankK };
        using var whole = WoodFisherCurvature.FromGradients(new ArrayGradientSource(g, d), options);
        var layout = BlockLayout.Create(d, c);
        var inMemory = PassPlan.Create(layout, m, options, 0, budget: long.MaxValue, slabBytes: 8L << 20);
        // Two thirds of the blocks' bytes short of the in-memory plan: at most a third of the blocks per group, however much
        // of the budget the cores' workspaces take.
        var plan = PassPlan.Create(layout, m, options, 0, budget: inMemory.TotalBytes - (inMemory.BlockBytes * 2 / 3), slabBytes: 8L << 20);
        var w = Oracle.RandomVector(new Random(29), d);
        var mask = w.Select((_, i) => i % 3 != 0).ToArray();
        var expected = (double[])w.Clone();
        whole.ObsUpdate(expected, mask);

        var path = Path.Combine(Path.GetTempPath(), $"wf-tall-{Guid.NewGuid():N}.npy");
        try
        {
            Npy.Write(path, g, m, d);
            using var file = new NpyGradientSource(path);
            using var streamed = GroupedWoodFisherCurvature.Build(file, options, plan);
            var updated = (double[])w.Clone();
            streamed.ObsUpdate(updated, mask);
            Assert.Multiple(() =>
            {
                Assert.That(plan.TwoPass, Is.True, plan.Describe());
                Assert.That(plan.Groups, Has.Count.GreaterThan(2));
                Assert.That(plan.PanelRows, Is.EqualTo(200));
                Assert.That(streamed.Diagonal(), Is.EqualTo(whole.Diagonal()));
                Assert.That(updated, Is.EqualTo(expected));
            });
        }
        finally
        {
            File.Delete(path);
        }
    }

    // Oracle: the masked rows read whole (MaskedGradientSource.Read zeroes pruned coordinates row by row) cut to the
    // columns asked for.
    [Test]
    public void MaskedFileSource_ReadsColumns_AsTheMaskedRows()
    {
        const int d = 37;
        const int m = 5;
        var g = Oracle.RandomVector(new Random(2), m * d).Select(x => (float)x).ToArray();
        var mask = Enumerable.Range(0, d).Select(i => i % 3 != 1 && i != 20).ToArray();
        var path = Path.Combine(Path.GetTempPath(), $"wf-masked-{Guid.NewGuid():N}.npy");
        try
        {
            Npy.Write(path, g, m, d);
            using var file = new NpyGradientSource(path);
            var masked = MaskedGradientSource.Over(file, mask);
            Assert.That(masked, Is.InstanceOf<IColumnGradientSource>());
            var rows = new float[m * d];
            masked.Reset();
            Assert.That(masked.Read(rows, m), Is.EqualTo(m));
            var part = new float[3 * 11];
            ((IColumnGradientSource)masked).ReadColumns(1, 3, 14, 11, part);
            var expected = Enumerable.Range(1, 3).SelectMany(r => rows.Skip((r * d) + 14).Take(11)).ToArray();
            Assert.Multiple(() =>
            {
                Assert.That(part, Is.EqualTo(expected));
                Assert.That(part[(0 * 11) + 6], Is.Zero, "column 20 is pruned");
                Assert.That(MaskedGradientSource.Over(file, Enumerable.Repeat(true, d).ToArray()), Is.SameAs(file), "nothing pruned: the source itself");
                Assert.That(MaskedGradientSource.Over(new ArrayGradientSource(g, d), mask), Is.Not.InstanceOf<IColumnGradientSource>());
            });
        }
        finally
        {
            File.Delete(path);
        }
    }
}
