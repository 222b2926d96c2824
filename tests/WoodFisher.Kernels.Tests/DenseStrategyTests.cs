using WoodFisher.Kernels;
using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels.Tests;

/// <summary>
/// The float32 Dense strategy: its Gram (<see cref="MixedSyrk"/>) against the float64 Gram entry by entry, and its
/// inverse against the float64 oracle within the error bound stated on <see cref="DenseStrategy"/>.
/// </summary>
[TestFixture]
public class DenseStrategyTests
{
    private static readonly double U32 = Math.ScaleB(1.0, -24);

    private static double Gamma(int k) => k * U32 / (1 - (k * U32));

    // Each entry sums at most KC float32 products in float32 and those partial sums in float64:
    // |Ĉ − C| ≤ γ_KC·Σ_r |x_ri x_rj| (+ float64 rounding, ~1e-16 of it). Sizes cover the 6 × 2W tile edges (1, 7, 37),
    // several tiles and a single block split into column slabs across cores (300 > 2·cores blocks), and 300 rows cross a
    // KC = 256 boundary.
    [TestCase(1, 5, 3)]
    [TestCase(7, 40, 2)]
    [TestCase(37, 300, 1)]
    [TestCase(97, 64, 4)]
    [TestCase(300, 300, 1)]
    public void Gram_IsWithinTheStatedBoundOfTheFloat64Gram(int c, int rows, int blocks)
    {
        var d = c * blocks;
        var g = Array.ConvertAll(Oracle.RandomGradients(40 + c, rows, d), v => (double)(float)v);
        var layout = BlockLayout.Create(d, c);
        var dense = new DenseStrategy(layout, Precision.Float32);
        dense.Accumulate<float>(Array.ConvertAll(g, v => (float)v), rows);
        var gram = dense.GramForTests;
        var worst = 0.0;
        for (var b = 0; b < blocks; b++)
        {
            for (var i = 0; i < c; i++)
            {
                for (var j = 0; j <= i; j++)
                {
                    double exact = 0, magnitude = 0;
                    for (var r = 0; r < rows; r++)
                    {
                        var p = g[(r * d) + (b * c) + i] * g[(r * d) + (b * c) + j];
                        exact += p;
                        magnitude += Math.Abs(p);
                    }

                    var error = Math.Abs(gram[layout.SquareOffset(b) + (i * c) + j] - exact);
                    worst = Math.Max(worst, error / (Gamma(MixedSyrk.KC) * magnitude));
                }
            }
        }

        Assert.That(worst, Is.LessThanOrEqualTo(1.0 + 1e-9), "error / bound, worst entry");
    }

    // DenseStrategy's remarks: ‖F̂⁻¹_float32 − F̂⁻¹‖₂ ≤ β/(1 − β)·‖F̂⁻¹‖₂, β = γ_KC·tr(GᵀG/N)/λ_min(F̂), plus the final
    // rounding of each entry to float32 (u₃₂·max|F̂⁻¹| per entry). Rows are float32 values, so the oracle inverts the very
    // matrix the strategy sees. Both the well-conditioned (κ ≈ 1e2) and the ill-conditioned (κ ≈ 1e6) data of the oracle
    // tests; the measured error is printed beside the bound.
    [TestCase(false)]
    [TestCase(true)]
    public void Inverse_IsWithinTheStatedBound(bool illConditioned)
    {
        const int d = 150, m = 100, c = 64;
        var lambda = illConditioned ? 1e-4 : 1e-2;
        var raw = illConditioned ? Oracle.IllConditionedGradients(3, m, d) : Oracle.RandomGradients(3, m, d);
        var g = Array.ConvertAll(raw, v => (double)(float)v);
        var options = new WoodFisherOptions { BlockSize = c, Damping = lambda, Strategy = WoodburyStrategy.Dense, Precision = Precision.Float32, Backend = BackendKind.Cpu };
        using var inv = WoodFisherBuilder.Compute(g, m, d, options);
        var oracle = Oracle.BlockInverses(g, m, d, inv.Layout, lambda, m);
        for (var b = 0; b < inv.Layout.Count; b++)
        {
            var n = inv.Layout.Size(b);
            var fisher = Oracle.Fisher(g, m, d, inv.Layout, b, lambda, m);
            var values = new double[n];
            LinearAlgebra.SymmetricEigenvalues(fisher, n, values);
            var trace = Enumerable.Range(0, n).Sum(i => fisher[(i * n) + i] - lambda);
            var beta = Gamma(MixedSyrk.KC) * trace / values.Min();
            var normInverse = 1 / values.Min();
            var block = inv.Block(b);
            var error = block.Zip(oracle[b], (x, y) => Math.Abs(x - y)).Max();
            var bound = (beta / (1 - beta) * normInverse) + (U32 * oracle[b].Max(Math.Abs));
            TestContext.Out.WriteLine($"block {b}: κ = {values.Max() / values.Min():E1}, β = {beta:E2}, error {error:E2} ≤ bound {bound:E2}");
            Assert.That(beta, Is.LessThan(1), "the bound applies while β < 1");
            Assert.That(error, Is.LessThanOrEqualTo(bound), $"block {b}");
        }
    }

    // Float32 rows read in place and the same values as float64 rows (converted to float32 while packed) give the same
    // products in the same order: bitwise the same inverse.
    [Test]
    public void Float32Rows_AndFloat64RowsOfTheSameValues_GiveTheSameInverse()
    {
        const int d = 150, m = 70;
        var g = Array.ConvertAll(Oracle.RandomGradients(5, m, d), v => (double)(float)v);
        var options = new WoodFisherOptions { BlockSize = 64, Damping = 1e-2, Strategy = WoodburyStrategy.Dense, Precision = Precision.Float32, Backend = BackendKind.Cpu };
        using var a = WoodFisherBuilder.Compute(g, m, d, options);
        using var b = WoodFisherBuilder.Compute(Array.ConvertAll(g, v => (float)v), m, d, options);
        Assert.That(b.Block(1), Is.EqualTo(a.Block(1)));
    }
}
