using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels.Tests;

/// <summary>
/// <see cref="CpuBackend.RecycleBlocks"/>: a storage allocated from a disposed one's arrays behaves as a fresh one. Oracle:
/// the same operations on a backend that does not recycle (exact equality), and zeros / σI written out.
/// </summary>
public class BlockRecyclingTests
{
    [TestCase(Precision.Float32)]
    [TestCase(Precision.Float64)]
    public void RecycledStorage_IsZero_AndBuildsTheSameBits(Precision precision)
    {
        var layout = BlockLayout.Create(700, 300);
        var g = Oracle.RandomGradients(3, 40, 700);
        using var fresh = new CpuBackend();
        using var recycling = new CpuBackend { RecycleBlocks = true };

        var first = recycling.Allocate(layout, precision);
        recycling.SetScaledIdentity(first, 2.0);
        recycling.RankKUpdate(first, g, 40, 40);
        var reused = Arrays(first);
        first.Dispose();

        // Allocate's contract: zeroed, whatever the recycled arrays held.
        var zeroed = recycling.Allocate(layout, precision);
        var read = new double[layout.SquareLength];
        recycling.Read(zeroed, read);
        var sameArrays = Arrays(zeroed).All(x => reused.Any(y => ReferenceEquals(x, y)));
        zeroed.Dispose();

        // σI then the same updates as on a fresh storage: the same bits.
        var again = recycling.Allocate(layout, precision);
        recycling.SetScaledIdentity(again, 0.5);
        var identity = new double[layout.SquareLength];
        recycling.Read(again, identity);
        recycling.RankKUpdate(again, g, 40, 40);
        var expected = fresh.Allocate(layout, precision);
        fresh.SetScaledIdentity(expected, 0.5);
        fresh.RankKUpdate(expected, g, 40, 40);
        var a = new double[layout.SquareLength];
        var b = new double[layout.SquareLength];
        recycling.Read(again, a);
        fresh.Read(expected, b);

        Assert.Multiple(() =>
        {
            Assert.That(sameArrays, Is.True, "every block's array is reused");
            Assert.That(read, Is.All.Zero);
            for (var blk = 0; blk < layout.Count; blk++)
            {
                var c = layout.Size(blk);
                var off = layout.SquareOffset(blk);
                for (var i = 0; i < c * c; i++)
                {
                    if (identity[off + i] != (i % (c + 1) == 0 ? 0.5 : 0.0))
                    {
                        Assert.Fail($"block {blk} entry {i} of σI is {identity[off + i]}");
                    }
                }
            }

            Assert.That(a, Is.EqualTo(b));
        });
        again.Dispose();
        expected.Dispose();
    }

    private static Array[] Arrays(IBlockStorage storage) => storage switch
    {
        CpuBlockStorage<float> f => f.Blocks,
        CpuBlockStorage<double> d => d.Blocks,
        _ => throw new ArgumentException("not CPU storage", nameof(storage)),
    };
}
