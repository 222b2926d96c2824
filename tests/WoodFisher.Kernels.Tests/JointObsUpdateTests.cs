using WoodFisher.Kernels;
using WoodFisher.Kernels.Tests.Contract;

namespace WoodFisher.Kernels.Tests;

/// <summary>The solve policy of the one joint OBS update, and its plan, against closed forms.</summary>
[TestFixture]
public class JointObsUpdateTests
{
    [Test]
    public void Solve_PositiveDefinite_IsTheCholeskySolution_WithoutJitter()
    {
        double[] a = [4, 1, 0.5, 1, 3, 0.2, 0.5, 0.2, 2];
        double[] b = [1, -2, 0.5];
        var x = (double[])b.Clone();
        var tau = JointObsUpdate.Solve((double[])a.Clone(), 3, x, 0, JointObsUpdate.UnitRoundoff(Precision.Float64));
        var expected = Multiply(DenseReference.Invert(a, 3), b);
        Assert.Multiple(() =>
        {
            Assert.That(tau, Is.Zero);
            Assert.That(x, Is.EqualTo(expected).Within(1e-14));
        });
    }

    // [[1, 1], [1, 1]] is singular: Cholesky's second pivot is exactly 0, so the policy retries with its first jitter
    // τ = 2·max(u, √u₆₄)·1 and returns (A + τI)⁻¹b = ((b₀ + b₁)/(2 + τ) ± (b₀ − b₁)/τ)/2 in closed form. The (b₀ − b₁)/2τ
    // part is ~10⁸ in float64 and ~10⁷ in float32 storage; a backward-stable float64 solve matches it to ~u₆₄·‖A‖/τ·‖x‖.
    [TestCase(Precision.Float64)]
    [TestCase(Precision.Float32)]
    public void Solve_SingularMatrix_UsesTheFirstStatedJitter(Precision storage)
    {
        double[] b = [0.3, -0.7];
        var x = (double[])b.Clone();
        var u = JointObsUpdate.UnitRoundoff(storage);
        var tau = JointObsUpdate.Solve(new double[] { 1, 1, 1, 1 }, 2, x, 5, u);
        var expectedTau = JointObsUpdate.FirstJitter(2, 1.0, u);
        var sum = (b[0] + b[1]) / (2 + expectedTau);
        var diff = (b[0] - b[1]) / expectedTau;
        Assert.Multiple(() =>
        {
            Assert.That(tau, Is.EqualTo(expectedTau));
            Assert.That(x[0], Is.EqualTo((sum + diff) / 2).Within(1e-6 * Math.Abs(diff)));
            Assert.That(x[1], Is.EqualTo((sum - diff) / 2).Within(1e-6 * Math.Abs(diff)));
            Assert.That(x[0] + x[1], Is.EqualTo(sum).Within(1e-6), "the well-determined direction");
        });
    }

    [Test]
    public void Solve_Indefinite_ThrowsNamingTheBlock()
    {
        // Eigenvalues 1 and −1: far below −1000·τ₀, so no jitter makes it positive definite.
        Assert.That(
            () => JointObsUpdate.Solve(new double[] { 0, 1, 1, 0.5 }, 2, new double[2], 7, JointObsUpdate.UnitRoundoff(Precision.Float32)),
            Throws.TypeOf<BlockNotPositiveDefiniteException>().With.Property("Block").EqualTo(7));
        Assert.That(
            () => JointObsUpdate.Solve(new double[] { 1, 2, 2, 1 }, 2, new double[2], 3, JointObsUpdate.UnitRoundoff(Precision.Float64)),
            Throws.TypeOf<BlockNotPositiveDefiniteException>().With.Property("Block").EqualTo(3).And.Message.Contains("jitter"));
    }

    [Test]
    public void Plan_GroupsConsecutiveBlocks_WithinTheElementBound_SkippingEmptyOnes()
    {
        // Blocks of 4: Q sizes 2, 0, 4, 1, 0 → columns 8, 0, 16, 4, 0 elements.
        var layout = BlockLayout.Create(20, 4);
        var mask = Enumerable.Repeat(true, 20).ToArray();
        foreach (var q in (int[])[1, 3, 8, 9, 10, 11, 13])
        {
            mask[q] = false;
        }

        var plan = JointObsPlan.Create(layout, mask);
        Assert.Multiple(() =>
        {
            Assert.That(plan.Count, Is.EqualTo(7));
            Assert.That(plan.Local(0).ToArray(), Is.EqualTo(new[] { 1, 3 }));
            Assert.That(plan.Local(3).ToArray(), Is.EqualTo(new[] { 1 }));
            Assert.That(plan.ColumnStart(layout.Count), Is.EqualTo(28));
            Assert.That(plan.Groups(20).ToArray(), Is.EqualTo(new[] { (0, 2), (2, 5) }));
            Assert.That(plan.Groups(1).ToArray(), Is.EqualTo(new[] { (0, 1), (2, 3), (3, 4) }), "a block larger than the bound is a group of its own");
            Assert.That(plan.Groups(1000).ToArray(), Is.EqualTo(new[] { (0, 5) }));
        });
    }

    private static double[] Multiply(double[] a, double[] x)
    {
        var n = x.Length;
        var r = new double[n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                r[i] += a[(i * n) + j] * x[j];
            }
        }

        return r;
    }
}
