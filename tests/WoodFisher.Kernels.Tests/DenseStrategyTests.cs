using WoodFisher.Kernels;
using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels.Tests;

/// <summary>
/// The float32 Dense strategy: its Gram (<see cref="LinearAlgebra.SymmetricRankKMixed{TSrc}"/>) against the float64 Gram entry by entry, and its
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
                    worst = Math.Max(worst, error / (Gamma(LinearAlgebra.MixedPanel) * magnitude));
                }
            }
        }

        Assert.That(worst, Is.LessThanOrEqualTo(1.0 + 1e-9), "error / bound, worst entry");
    }

    // DenseStrategy's remarks: ‖F̂⁻¹_float32 − F̂⁻¹‖₂ ≤ β/(1 − β)·‖F̂⁻¹‖₂ with β = (γ_KC·tr(GᵀG/N) + 3γ_{c+1}·tr(F̂))/λ_min(F̂),
    // plus the final rounding of each entry to float32 (u₃₂·max|F̂⁻¹| per entry). Rows are float32 values, so the oracle
    // inverts the very matrix the strategy sees. Both the well-conditioned (κ ≈ 1e2) and the ill-conditioned data of the
    // oracle tests; where β ≥ 1 the bound says nothing and that block is only printed. Both forms: rows kept and each
    // Gram formed from all m rows at the end (m known), and the Gram streamed panel by panel (m unknown).
    [TestCase(false, true)]
    [TestCase(true, true)]
    [TestCase(false, false)]
    [TestCase(true, false)]
    public void Inverse_IsWithinTheStatedBound(bool illConditioned, bool keepRows)
    {
        const int d = 150, m = 100, c = 64;
        var lambda = illConditioned ? 1e-4 : 1e-2;
        var raw = illConditioned ? Oracle.IllConditionedGradients(3, m, d) : Oracle.RandomGradients(3, m, d);
        var g = Array.ConvertAll(raw, v => (double)(float)v);
        var options = new WoodFisherOptions { BlockSize = c, Damping = lambda, Strategy = WoodburyStrategy.Dense, Precision = Precision.Float32, Backend = BackendKind.Cpu };
        using var inv = Build(g, m, d, options, keepRows);
        var oracle = Oracle.BlockInverses(g, m, d, inv.Layout, lambda, m);
        var checkedBlocks = 0;
        for (var b = 0; b < inv.Layout.Count; b++)
        {
            var n = inv.Layout.Size(b);
            var fisher = Oracle.Fisher(g, m, d, inv.Layout, b, lambda, m);
            var values = new double[n];
            LinearAlgebra.SymmetricEigenvalues(fisher, n, values);
            var trace = Enumerable.Range(0, n).Sum(i => fisher[(i * n) + i]);
            var beta = ((Gamma(LinearAlgebra.MixedPanel) * (trace - (n * lambda))) + (3 * Gamma(n + 1) * trace)) / values.Min();
            var normInverse = 1 / values.Min();
            var error = inv.Block(b).Zip(oracle[b], (x, y) => Math.Abs(x - y)).Max();
            var bound = (beta / (1 - beta) * normInverse) + (U32 * oracle[b].Max(Math.Abs));
            TestContext.Out.WriteLine($"block {b}: κ = {values.Max() / values.Min():E1}, β = {beta:E2}, error {error:E2}, bound {(beta < 1 ? bound.ToString("E2") : "none")}");
            if (beta < 1)
            {
                checkedBlocks++;
                Assert.That(error, Is.LessThanOrEqualTo(bound), $"block {b}");
            }
        }

        Assert.That(checkedBlocks, Is.GreaterThanOrEqualTo(2));
    }

    // Rows of 0 and ±1 make every float32 product and partial sum exact, so the Gram is exact; with λ = 1e-9 and
    // m < c, κ(F̂) ≈ 1e9 is far beyond what a float32 Cholesky resolves (its pivots fall to rounding noise) but well within
    // float64. The blocks must come from the float64 fallback: within float32 rounding (1e-6) of the float64 oracle.
    [Test]
    public void Float32Inverse_FallsBackToFloat64_WhereFloat32CholeskyFails()
    {
        const int d = 48, m = 20, c = 24;
        var rng = new Random(9);
        var g = new double[m * d];
        for (var i = 0; i < g.Length; i++)
        {
            g[i] = rng.Next(3) - 1;
        }

        var options = new WoodFisherOptions { BlockSize = c, Damping = 1e-9, Strategy = WoodburyStrategy.Dense, Precision = Precision.Float32, Backend = BackendKind.Cpu };
        using var inv = WoodFisherBuilder.Compute(g, m, d, options);
        var oracle = Oracle.BlockInverses(g, m, d, inv.Layout, 1e-9, m);
        Assert.That(Oracle.MaxBlockError(inv, oracle), Is.LessThan(1e-6));
        Assert.Multiple(() =>
        {
            Assert.That(FallbacksOf(g, m, d, c, 1e-9), Is.EqualTo(2), "both blocks redone in float64");
            Assert.That(FallbacksOf(Oracle.RandomGradients(3, m, d), m, d, c, 1e-2), Is.Zero, "κ ≈ 1e2 stays in float32");
        });
    }

    // Float32 CPU blocks are inverted where they lie, without clearing: storage recycled from a disposed one whose arrays
    // still hold σI + rank-k updates must come out bit for bit as fresh storage does, in float32 (λ = 1e-2) and through the
    // float64 fallback (λ = 1e-9, see above). Oracle: the same Finish on a backend that does not recycle.
    [TestCase(1e-2)]
    [TestCase(1e-9)]
    public void Float32Inverse_IntoRecycledBlocks_EqualsFresh(double lambda)
    {
        const int d = 48, m = 20, c = 24;
        var rng = new Random(9);
        var g = Enumerable.Range(0, m * d).Select(_ => (double)(rng.Next(3) - 1)).ToArray();
        var layout = BlockLayout.Create(d, c);
        double[] Finish(CpuBackend backend)
        {
            var dense = new DenseStrategy(layout, Precision.Float32, m);
            dense.Accumulate<double>(g, m);
            using var storage = dense.Finish(backend, lambda, m);
            var read = new double[layout.SquareLength];
            backend.Read(storage, read);
            return read;
        }

        using var fresh = new CpuBackend();
        using var recycling = new CpuBackend { RecycleBlocks = true };
        var dirty = recycling.Allocate(layout, Precision.Float32);
        recycling.SetScaledIdentity(dirty, 7.0);
        recycling.RankKUpdate(dirty, g, m, m);
        dirty.Dispose();
        Assert.That(Finish(recycling), Is.EqualTo(Finish(fresh)));
    }

    private static int FallbacksOf(double[] g, int m, int d, int c, double lambda)
    {
        var counts = new List<int>();
        foreach (long? rows in new long?[] { null, m })
        {
            var dense = new DenseStrategy(BlockLayout.Create(d, c), Precision.Float32, rows);
            Assert.That(dense.KeepsRows, Is.EqualTo(rows is not null));
            dense.Accumulate<double>(g, m);
            using var backend = new CpuBackend();
            using var storage = dense.Finish(backend, lambda, m);
            counts.Add(dense.Float64Fallbacks);
        }

        Assert.That(counts[1], Is.EqualTo(counts[0]), "kept rows and streamed Gram fall back on the same blocks");
        return counts[0];
    }

    private static WoodFisherInverse Build(double[] g, int m, int d, WoodFisherOptions options, bool keepRows)
    {
        using var builder = keepRows ? new WoodFisherBuilder(d, options, m) : new WoodFisherBuilder(d, options);
        for (var r = 0; r < m; r += 30)
        {
            var n = Math.Min(30, m - r);
            builder.Add(g.AsSpan(r * d, n * d), n);
        }

        return builder.Build();
    }

    // Kept rows are refused beyond the m they were sized for (the builder reports a row-count mismatch the same way).
    [Test]
    public void KeptRows_RefuseMoreRowsThanSizedFor()
    {
        var dense = new DenseStrategy(BlockLayout.Create(8, 4), Precision.Float32, 2);
        dense.Accumulate<float>(new float[16], 2);
        Assert.That(() => dense.Accumulate<float>(new float[8], 1), Throws.InvalidOperationException.With.Message.Contains("sized for 2 rows"));
    }

    // Rows are kept only in float32, with m known and the rows no larger than twice the Gram matrices.
    [TestCase(Precision.Float32, 1000L, true)]
    [TestCase(Precision.Float32, 1600L, true)]
    [TestCase(Precision.Float32, 1601L, false)]
    [TestCase(Precision.Float32, null, false)]
    [TestCase(Precision.Float64, 1000L, false)]
    public void HoldsRows_FollowsTheStatedRule(Precision precision, long? rows, bool expected)
        => Assert.That(DenseStrategy.HoldsRows(BlockLayout.Create(1200, 400), precision, rows), Is.EqualTo(expected));

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
