namespace WoodFisher.Kernels.Tests;

// Rows given as factors (IGradientRowFactors) must build the very inverse the same rows added as entries build: the Dense
// strategy multiplies each block out into the same float32 values, a SYRK panel of rows at a time, and sums the same
// panels, so the oracle is the row-fed builder and the comparison is bit for bit (m over one panel of 256 rows included,
// and a single block that the SYRK splits over the cores).
public class GradientFactorsTests
{
    private static void AssertSameBlocks(WoodFisherInverse expected, WoodFisherInverse actual, string context)
    {
        for (var b = 0; b < expected.Layout.Count; b++)
        {
            Assert.That(actual.Block(b), Is.EqualTo(expected.Block(b)), $"{context}block {b}");
        }
    }

    private static WoodFisherOptions Dense(int c, Precision precision = Precision.Float32, BackendKind backend = BackendKind.Cpu) =>
        new() { BlockSize = c, Damping = 1e-2, Strategy = WoodburyStrategy.Dense, Precision = precision, Backend = backend };

    /// <summary>The inverse built from <paramref name="rows"/> as factors, after asserting it is the row-fed builder's bit for bit.</summary>
    private static WoodFisherInverse FactorsMatchRows(float[] rows, int m, int d, int c)
    {
        using var fromRows = new WoodFisherBuilder(d, Dense(c), m);
        fromRows.Add(rows, m);
        using var expected = fromRows.Build();
        using var fromFactors = new WoodFisherBuilder(d, Dense(c), m);
        fromFactors.AddFactors(new RowMajorFactors(rows, m, d));
        var actual = fromFactors.Build();
        AssertSameBlocks(expected, actual, "");
        return actual;
    }

    private static float[] Rows(int m, int d) => Array.ConvertAll(Oracle.RandomGradients(5, m, d), v => (float)v);

    [TestCase(150, 100, 64)]
    [TestCase(97, 40, 32)]
    [TestCase(64, 200, 64)]
    [TestCase(200, 300, 128)]
    [TestCase(96, 380, 96)]
    public void AddFactors_BuildsTheInverseOfTheRows_BitForBit(int d, int m, int c)
    {
        var rows = Rows(m, d);
        using var fromRows = new WoodFisherBuilder(d, Dense(c), m);
        fromRows.Add(rows, m);
        using var expected = fromRows.Build();

        using var fromFactors = new WoodFisherBuilder(d, Dense(c), m);
        Assert.That(fromFactors.TakesFactors, Is.True);
        fromFactors.AddFactors(new RowMajorFactors(rows, m, d));
        Assert.That(fromFactors.TakesFactors, Is.False, "factors are taken once");
        using var actual = fromFactors.Build();

        Assert.That(actual.SampleCount, Is.EqualTo(m));
        AssertSameBlocks(expected, actual, "");
    }

    // Rows that are zero within a block (a ReLU unit off for that sample) are left out of that block's SYRK: the blocks
    // must still be those of the row-fed builder that keeps its rows (m ≤ 4c) bit for bit, whether the zero rows lead a
    // panel, fill the last one, hold −0, or leave a block no row (inverted in the Woodbury form by both).
    [Test]
    public void AddFactors_WithZeroRows_BuildsTheInverseOfTheRows_BitForBit()
    {
        const int d = 240, m = 300, c = 80;
        var rows = Rows(m, d);
        for (var n = 0; n < m; n++)
        {
            var row = rows.AsSpan(n * d, d);
            if (n < 10 || n >= 256)
            {
                row.Clear();
            }
            else if (n % 3 == 0)
            {
                row[..c].Clear();
            }
            else if (n == 20)
            {
                row[c..(2 * c)].Fill(-0f);
            }

            row[(2 * c)..(3 * c)].Clear();
        }

        using var actual = FactorsMatchRows(rows, m, d, c);
        // 1/λ from λ rounded to float32 and a float32 factor and inverse: a few ulps (2·10⁻⁷ relative each) of 100.
        Assert.That(actual.Block(2)[0], Is.EqualTo(1 / 1e-2).Within(1e-4), "a block of zero rows inverts λI");
    }

    // Zero rows spread through many gather windows: a block's non-zero rows fill whole SYRK panels across the windows (one
    // overflowing into the next panel), a dense block takes three panels, and a sparse one (about 35 rows, at most c/4)
    // the Woodbury form. Bit for bit the blocks of the row-fed builder that keeps its rows (m ≤ 4c), which compacts each
    // block's rows into the same panels; and both within the float32 oracle tolerance of the float64 inverse of the same
    // rows (as StrategyTests: the κ·u₃₂ class for these κ ≈ 10² blocks). A row-fed builder that streams its Gram sums
    // the panels its calls bring instead.
    [Test]
    public void AddFactors_WithZeroRowsAcrossPanels_EqualsTheKeptRows_AndTheFloat64Inverse()
    {
        const int d = 576, m = 700, c = 192;
        var rows = Rows(m, d);
        var rng = new Random(9);
        for (var n = 0; n < m; n++)
        {
            var row = rows.AsSpan(n * d, d);
            if (rng.NextDouble() < 0.5)
            {
                row[..c].Clear();
            }

            if (rng.NextDouble() < 0.95)
            {
                row[(2 * c)..].Fill(-0f);
            }
        }

        using var actual = FactorsMatchRows(rows, m, d, c);
        var g = Array.ConvertAll(rows, v => (double)v);
        Assert.That(Oracle.MaxBlockError(actual, Oracle.BlockInverses(g, m, d, actual.Layout, 1e-2, m)), Is.LessThan(2e-4));
    }

    [Test]
    public void DropZeroRows_KeepsTheNonZeroRowsInOrder()
    {
        float[] block = [0, 0, 1, 2, 0, 0, -0f, 0, 0, 0, 3, -0f, float.NaN, 0];
        Assert.That(GradientRows.DropZeroRows(block, 7, 2), Is.EqualTo(3), "±0 rows are dropped, a NaN row is not");
        Assert.That(block[..6], Is.EqualTo(new float[] { 1, 2, 3, -0f, float.NaN, 0 }));
    }

    // The blocks are formed on the CPU whatever holds them: on the ILGPU backend (its CPU accelerator here) as well.
    [Test]
    public void AddFactors_OnTheIlgpuBackend_BuildsTheInverseOfTheRows_BitForBit()
    {
        const int d = 100, m = 70, c = 48;
        var rows = Rows(m, d);
        var options = Dense(c, backend: BackendKind.Ilgpu);
        using var fromRows = new WoodFisherBuilder(d, options, m);
        fromRows.Add(rows, m);
        using var expected = fromRows.Build();
        using var fromFactors = new WoodFisherBuilder(d, options, m);
        fromFactors.AddFactors(new RowMajorFactors(rows, m, d));
        using var actual = fromFactors.Build();
        AssertSameBlocks(expected, actual, "");
    }

    // A damping search keeps the Gram matrices across λ (BuildAt): formed from factors on the first call, as from rows.
    [Test]
    public void AddFactors_ThenBuildAtSeveralDampings_EqualsTheRows()
    {
        const int d = 130, m = 60, c = 48;
        var rows = Rows(m, d);
        using var fromRows = new WoodFisherBuilder(d, Dense(c), m);
        fromRows.Add(rows, m);
        using var fromFactors = new WoodFisherBuilder(d, Dense(c), m);
        fromFactors.AddFactors(new RowMajorFactors(rows, m, d));
        foreach (var lambda in new[] { 1e-1, 1e-3 })
        {
            using var expected = fromRows.BuildAt(lambda);
            using var actual = fromFactors.BuildAt(lambda);
            AssertSameBlocks(expected, actual, $"λ = {lambda}, ");
        }
    }

    // Every λ of the search keeps the factors, so that its joint update takes the kept-set step where a block keeps few
    // coordinates, as a fresh build at that λ does: the pruned weights equal bit for bit, for the first λ and the later ones.
    [Test]
    public void AddFactors_ThenBuildAt_JointUpdateEqualsAFreshBuildsAtThatDamping()
    {
        const int d = 130, m = 60, c = 48;
        var rows = Rows(m, d);
        var rng = new Random(4);
        var w = Enumerable.Range(0, d).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var mask = Enumerable.Range(0, d).Select(_ => rng.NextDouble() < 0.1).ToArray();
        using var swept = new WoodFisherBuilder(d, Dense(c), m);
        swept.AddFactors(new RowMajorFactors(rows, m, d));
        foreach (var lambda in new[] { 1e-1, 1e-3, 1e-5 })
        {
            using var fresh = new WoodFisherBuilder(d, Dense(c) with { Damping = lambda }, m);
            fresh.AddFactors(new RowMajorFactors(rows, m, d));
            using var expected = fresh.Build();
            using var actual = swept.BuildAt(lambda);
            var (we, wa) = ((double[])w.Clone(), (double[])w.Clone());
            expected.ObsUpdate(we, mask);
            actual.ObsUpdate(wa, mask);
            Assert.That(wa, Is.EqualTo(we), $"λ = {lambda}");
        }
    }

    // Only a float32 Dense build without mini-batch averaging and with no row added yet takes them, m rows if m was given.
    [Test]
    public void TakesFactors_OnlyForAFreshFloat32DenseBuild()
    {
        const int d = 80, m = 30, c = 40;
        var factors = new RowMajorFactors(Rows(m, d), m, d);
        using var rankK = new WoodFisherBuilder(d, Dense(c) with { Strategy = WoodburyStrategy.RankK }, m);
        using var float64 = new WoodFisherBuilder(d, Dense(c, Precision.Float64), m);
        using var averaged = new WoodFisherBuilder(d, Dense(c) with { MiniBatch = 2 }, 2 * m);
        using var started = new WoodFisherBuilder(d, Dense(c), m);
        started.Add(Rows(1, d), 1);
        using var otherM = new WoodFisherBuilder(d, Dense(c), m + 1);
        Assert.Multiple(() =>
        {
            foreach (var (name, builder) in new[] { ("rank-k", rankK), ("float64", float64), ("mini-batch 2", averaged), ("a row added", started) })
            {
                Assert.That(builder.TakesFactors, Is.False, name);
                Assert.Throws<InvalidOperationException>(() => builder.AddFactors(factors), name);
            }

            Assert.That(otherM.TakesFactors, Is.True);
            Assert.Throws<InvalidOperationException>(() => otherM.AddFactors(factors), "m + 1 rows expected, m given");
        });
    }

    // Where rows streamed in would be summed into float64 Gram matrices panel by panel (m unknown, or m·d·4 bytes beyond
    // twice the Gram's), factors are still multiplied out a block at a time and each Gram formed from all m rows at once.
    // Only the float32 partial sums differ (over panels of the intake rather than of the SYRK): both are within the
    // strategy's stated bound of the float64 oracle, and within 1e-5 of each other relative to the largest entry.
    [TestCase(90, 50, 32, true)]
    [TestCase(70, 300, 32, false)]
    public void AddFactors_WhereRowsWouldStreamIntoTheGram_AgreesWithTheRows(int d, int m, int c, bool mUnknown)
    {
        var rows = Rows(m, d);
        using var fromRows = new WoodFisherBuilder(d, Dense(c), mUnknown ? null : m);
        for (var r = 0; r < m; r += 7)
        {
            var n = Math.Min(7, m - r);
            fromRows.Add(rows.AsSpan(r * d, n * d), n);
        }

        using var expected = fromRows.Build();
        using var fromFactors = new WoodFisherBuilder(d, Dense(c), mUnknown ? null : m);
        Assert.That(fromFactors.TakesFactors, Is.True);
        fromFactors.AddFactors(new RowMajorFactors(rows, m, d));
        using var actual = fromFactors.Build();
        Assert.That(actual.SampleCount, Is.EqualTo(m));
        for (var b = 0; b < expected.Layout.Count; b++)
        {
            var e = expected.Block(b);
            var scale = e.Max(Math.Abs);
            Assert.That(actual.Block(b).Zip(e, (x, y) => Math.Abs(x - y)).Max(), Is.LessThanOrEqualTo(1e-5 * scale), $"block {b}");
        }
    }

    // Factors are finite, but their product may overflow float32: the block is checked as multiplied out, and the error
    // names the row and the coordinate as for an added row.
    [Test]
    public void AProductThatOverflows_IsNamedByRowAndColumn()
    {
        const int d = 70, m = 12, c = 32;
        var rows = Rows(m, d);
        rows[(7 * d) + 45] = float.PositiveInfinity;
        using var builder = new WoodFisherBuilder(d, Dense(c), m);
        builder.AddFactors(new RowMajorFactors(rows, m, d));
        var e = Assert.Throws<NonFiniteGradientException>(() => builder.Build());
        Assert.Multiple(() =>
        {
            Assert.That(e!.Row, Is.EqualTo(7));
            Assert.That(e.Column, Is.EqualTo(45));
            Assert.That(e.Value, Is.EqualTo(double.PositiveInfinity));
        });
    }
}
