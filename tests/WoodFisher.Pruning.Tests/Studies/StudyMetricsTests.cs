using WoodFisher.Pruning.Studies;

namespace WoodFisher.Pruning.Tests.Studies;

public class StudyMetricsTests
{
    [Test]
    public void RelativeFrobenius_IsZeroForEqualMatrices_AndKnownForAScaledOne()
    {
        double[] b = [1, 2, -2, 4];
        Assert.Multiple(() =>
        {
            Assert.That(StudyMetrics.RelativeFrobenius(b, b), Is.Zero);
            Assert.That(StudyMetrics.RelativeFrobenius(b.Select(v => 1.5 * v).ToArray(), b), Is.EqualTo(0.5).Within(1e-15));
            Assert.That(StudyMetrics.RelativeFrobenius(new double[4], b), Is.EqualTo(1).Within(1e-15), "the zero matrix is at distance 1");
            Assert.That(StudyMetrics.Frobenius(b), Is.EqualTo(5).Within(1e-15));
            Assert.That(StudyMetrics.Cosine(b.Select(v => 3 * v).ToArray(), b), Is.EqualTo(1).Within(1e-15));
        });
        Assert.That(() => StudyMetrics.RelativeFrobenius([1, 2], [1]), Throws.ArgumentException);
    }

    [Test]
    public void Pearson_IsOneOnLinearData_MinusOneWhenDecreasing_NaNWhenConstant()
    {
        var x = Enumerable.Range(0, 20).Select(i => (double)i).ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(StudyMetrics.Pearson(x, x.Select(v => (3 * v) - 7).ToArray()), Is.EqualTo(1).Within(1e-14));
            Assert.That(StudyMetrics.Pearson(x, x.Select(v => -0.5 * v).ToArray()), Is.EqualTo(-1).Within(1e-14));
            Assert.That(StudyMetrics.Pearson(x, new double[20]), Is.NaN);
            Assert.That(StudyMetrics.Pearson([1.0], [2.0]), Is.NaN);
        });
    }

    // x = 1,2,3,4,5 and y = 2,1,4,3,5: Σd² = 4, ρ = 1 − 6·4/(5·24) = 0.8 (no ties, so the shortcut formula holds).
    [Test]
    public void Spearman_MatchesTheClosedFormWithoutTies_AndIsOneForAnyMonotoneMap()
    {
        Assert.That(StudyMetrics.Spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]), Is.EqualTo(0.8).Within(1e-14));
        var x = Enumerable.Range(1, 30).Select(i => (double)i).ToArray();
        Assert.That(StudyMetrics.Spearman(x, x.Select(v => Math.Exp(v / 3)).ToArray()), Is.EqualTo(1).Within(1e-14));
    }

    // Ties share the average rank: x = 1,2,2,3 has ranks 1, 2.5, 2.5, 4 (deviations −1.5, 0, 0, 1.5); against y = 1,2,3,4
    // (deviations −1.5, −0.5, 0.5, 1.5) the Pearson correlation of the ranks is 4.5/√(4.5·5) = √0.9.
    [Test]
    public void Spearman_WithTies_UsesAverageRanks()
    {
        Assert.That(StudyMetrics.Ranks([10, 20, 20, 30]), Is.EqualTo(new[] { 1, 2.5, 2.5, 4 }));
        Assert.That(StudyMetrics.Ranks([3, 1, 3, 3]), Is.EqualTo(new[] { 3, 1, 3, 3 }));
        Assert.That(StudyMetrics.Spearman([1, 2, 2, 3], [1, 2, 3, 4]), Is.EqualTo(Math.Sqrt(0.9)).Within(1e-14));
    }
}
