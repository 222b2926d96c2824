namespace WoodFisher.Pruning.Tests;

public class SelectionTests
{
    [Test]
    public void Global_PrunesRoundedCount_AndPicksPerLayerSparsityFromScores()
    {
        // Layer 0 (4 weights) has small scores, layer 1 (6 weights) large ones.
        double[] scores = [0.1, 0.2, 0.3, 5, 1, 2, 3, 4, 6, 7];
        var mask = MaskSelection.Select(scores, default, 0.5, SelectionMode.Global, [4, 6]);
        Assert.Multiple(() =>
        {
            Assert.That(mask.Count(m => !m), Is.EqualTo(5));
            Assert.That(mask, Is.EqualTo(new[] { false, false, false, true, false, false, true, true, true, true }));
            Assert.That(MaskSelection.SegmentSparsity(mask, [4, 6]), Is.EqualTo(new[] { 0.75, 2.0 / 6 }));
        });
    }

    [Test]
    public void TargetCount_RoundsHalfAwayFromZero()
    {
        Assert.Multiple(() =>
        {
            Assert.That(MaskSelection.TargetCount(0.25, 10), Is.EqualTo(3));
            Assert.That(MaskSelection.TargetCount(0.5, 7), Is.EqualTo(4));
            Assert.That(MaskSelection.TargetCount(0.0, 7), Is.Zero);
        });
    }

    [Test]
    public void Ties_AreBrokenByLowerIndexFirst()
    {
        double[] scores = [1, 1, 1, 1, 0.5, 1];
        var mask = MaskSelection.Select(scores, default, 0.5);
        Assert.That(mask, Is.EqualTo(new[] { false, false, true, true, false, true }));
    }

    [Test]
    public void PreviouslyPruned_StayPruned_AndCountTowardsTarget()
    {
        double[] scores = [9, 1, 2, 3, 4, 5];
        bool[] mask = [false, true, true, true, true, true];
        var same = MaskSelection.Select(scores, mask, 1.0 / 6);
        var more = MaskSelection.Select(scores, mask, 0.5);
        var lower = MaskSelection.Select(scores, [false, false, false, true, true, true], 0.1);
        Assert.Multiple(() =>
        {
            Assert.That(same, Is.EqualTo(mask));
            Assert.That(more, Is.EqualTo(new[] { false, false, false, true, true, true }));
            Assert.That(lower.Count(m => !m), Is.EqualTo(3), "nothing is ever un-pruned");
        });
    }

    [Test]
    public void LayerwiseUniform_PrunesEachSegmentToS_AndSkipsNonPrunable()
    {
        double[] scores = [0.1, 0.2, 0.3, 0.4, 5, 6, 7, 8, 0.01, 0.02];
        var mask = MaskSelection.Select(scores, default, 0.5, SelectionMode.LayerwiseUniform, [4, 4, 2], [true, true, false]);
        var global = MaskSelection.Select(scores, default, 0.5, SelectionMode.Global, [4, 4, 2], [true, true, false]);
        Assert.Multiple(() =>
        {
            Assert.That(mask, Is.EqualTo(new[] { false, false, true, true, false, false, true, true, true, true }));
            Assert.That(global, Is.EqualTo(new[] { false, false, false, false, true, true, true, true, true, true }));
            Assert.That(MaskSelection.Sparsity(global, [4, 4, 2], [true, true, false]), Is.EqualTo(0.5));
        });
    }

    [Test]
    public void BadInputs_ThrowClearErrors()
    {
        double[] scores = [1, 2, 3];
        Assert.Multiple(() =>
        {
            Assert.That(() => MaskSelection.Select(scores, default, 1.0), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => MaskSelection.Select(scores, default, -0.1), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => MaskSelection.Select(scores, default, 0.5, segments: [1, 1]), Throws.ArgumentException.With.Message.Contains("sum to 2"));
            Assert.That(() => MaskSelection.Select(scores, new bool[2], 0.5), Throws.ArgumentException);
            Assert.That(() => MaskSelection.Select([1, double.NaN], default, 0.5), Throws.ArgumentException);
        });
    }
}
