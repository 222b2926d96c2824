using WoodFisher.Kernels.Sparse;

namespace WoodFisher.Kernels.Tests.Sparse;

/// <summary>The split of a job into whole parts that an inference batch uses: every part once, nothing split again inside a part, failures rethrown.</summary>
public sealed class CoreSplitTests
{
    [TestCase(1)]
    [TestCase(2)]
    [TestCase(7)]
    public void Run_RunsEveryPartOnce_WithNoFurtherSplitInside(int parts)
    {
        var runs = new int[parts];
        var splitInside = 0;
        CoreSplit.Run(parts, p =>
        {
            Interlocked.Increment(ref runs[p]);
            if (CoreSplit.MaySplit || SparseParallel.Parts(long.MaxValue) != 1)
                Interlocked.Increment(ref splitInside);
        });
        Assert.That(runs, Is.All.EqualTo(1));
        Assert.That(splitInside, Is.Zero);
        Assert.That(CoreSplit.MaySplit, "the caller may split again once the parts are done");
    }

    [Test]
    public void Run_RethrowsAPartsFailure_AndRestoresTheCaller()
    {
        Assert.That(() => CoreSplit.Run(4, p =>
        {
            if (p == 2)
                throw new InvalidOperationException("part 2");
        }), Throws.InvalidOperationException.With.Message.EqualTo("part 2"));
        Assert.That(CoreSplit.MaySplit);
    }
}
