using WoodFisher.Kernels;

namespace WoodFisher.Pruning.Tests;

/// <summary>
/// Structured patterns: every mask satisfies its pattern; group costs and the joint group update equal the constrained
/// quadratic solved directly (KKT, float64); the N:M choice is the cheapest subset; OBS under a pattern beats magnitude
/// under the same pattern on a quadratic with correlated curvature.
/// </summary>
public sealed class PatternTests
{
    // Two "layers": fc1 [6, 10] with bias [6], fc2 [3, 6] with bias [3]: d = 60 + 6 + 18 + 3 = 87.
    private static readonly int[] Segments = [60, 6, 18, 3];
    private static readonly int[][] Shapes = [[6, 10], [6], [3, 6], [3]];
    private static readonly bool[] Prunable = [true, false, true, false];

    [TestCase("2:4")]
    [TestCase("1:4")]
    [TestCase("4:8")]
    [TestCase("3:5")]
    [TestCase("8:16")]
    public void NofM_MasksKeepAtMostNInEveryGroup(string text)
    {
        var p = PruningPattern.Parse(text);
        var (h, inverse) = Curvature(87, seed: 1);
        var w = Oracle.RandomVector(new Random(2), 87);
        var layout = new PatternLayout(Segments, Shapes, Prunable);
        var mask = PatternSelection.Select(p, layout, w, inverse, [], p.NofMSparsity);
        foreach (var m in layout.Matrices)
        {
            for (var r = 0; r < m.Rows; r++)
            {
                for (var g = 0; g < m.Columns; g += p.B)
                {
                    var len = Math.Min(p.B, m.Columns - g);
                    var kept = mask.AsSpan(m.Offset + (r * m.Columns) + g, len).Count(true);
                    Assert.That(kept, Is.EqualTo(Math.Min(p.A, len)), $"row {r} group {g}");
                }
            }
        }

        Assert.That(mask[60..66].All(k => k) && mask[84..].All(k => k), "biases are not in N:M groups");
        Assert.That(h, Is.Not.Null);
    }

    [TestCase(1, 4)]
    [TestCase(4, 1)]
    [TestCase(2, 3)]
    public void Blocks_PruneWholeTiles(int rows, int cols)
    {
        var p = PruningPattern.Block(rows, cols);
        var (_, inverse) = Curvature(87, seed: 3);
        var w = Oracle.RandomVector(new Random(4), 87);
        var layout = new PatternLayout(Segments, Shapes, Prunable);
        var mask = PatternSelection.Select(p, layout, w, inverse, [], 0.5);
        foreach (var m in layout.Matrices)
        {
            for (var r = 0; r < m.Rows; r += rows)
            {
                for (var j = 0; j < m.Columns; j += cols)
                {
                    var tile = new List<bool>();
                    for (var i = r; i < Math.Min(m.Rows, r + rows); i++)
                        tile.AddRange(mask.AsSpan(m.Offset + (i * m.Columns) + j, Math.Min(cols, m.Columns - j)).ToArray());
                    Assert.That(tile.Distinct().Count(), Is.EqualTo(1), $"tile ({r}, {j}) of segment {m.Segment} is all kept or all pruned");
                }
            }
        }

        var sparsity = PatternSelection.Sparsity(p, layout, mask);
        Assert.That(sparsity, Is.EqualTo(0.5).Within((double)rows * cols / 78), "the target to within one tile");
    }

    [Test]
    public void Neurons_PruneWholeUnitsWithBias_KeepTheClassifierAndOneUnitPerLayer()
    {
        var (_, inverse) = Curvature(87, seed: 5);
        var w = Oracle.RandomVector(new Random(6), 87);
        var layout = new PatternLayout(Segments, Shapes, Prunable);
        var mask = PatternSelection.Select(PruningPattern.Neurons, layout, w, inverse, [], 0.5);
        var removed = 0;
        for (var r = 0; r < 6; r++)
        {
            var row = mask.AsSpan(r * 10, 10).ToArray();
            Assert.That(row.Distinct().Count(), Is.EqualTo(1), $"unit {r} whole");
            Assert.That(mask[60 + r], Is.EqualTo(row[0]), $"unit {r}'s bias goes with it");
            removed += row[0] ? 0 : 1;
        }

        Assert.That(removed, Is.EqualTo(3), "half of the 6 candidate units");
        Assert.That(mask[66..].All(k => k), "the last layer's units are the outputs");
        var all = PatternSelection.Select(PruningPattern.Neurons, layout, w, inverse, [], 0.99);
        Assert.That(Enumerable.Range(0, 6).Count(r => all[r * 10]), Is.EqualTo(1), "one unit survives");
    }

    [TestCase("2:4")]
    [TestCase("block:2x2")]
    [TestCase("neurons")]
    public void GroupCostAndJointUpdate_SolveTheConstrainedQuadratic(string text)
    {
        // One block of d: the estimate is the exact (H + λI)⁻¹, so the joint update must be the KKT solution.
        var d = 87;
        var (h, inverse) = Curvature(d, seed: 7);
        var w = Oracle.RandomVector(new Random(8), d);
        var layout = new PatternLayout(Segments, Shapes, Prunable);
        var mask = PatternSelection.Select(PruningPattern.Parse(text), layout, w, inverse, [], 0.5);
        var q = Enumerable.Range(0, d).Where(i => !mask[i]).ToArray();
        var delta = Oracle.ConstrainedStep(h, d, new double[d], w, q);
        var expected = w.Zip(delta, (a, b) => a + b).ToArray();
        var updated = (double[])w.Clone();
        ObsWeightUpdate.Apply(UpdateMode.Joint, inverse, updated, mask);
        Assert.That(Oracle.MaxAbsDiff(updated, expected), Is.LessThan(1e-10), "joint update = KKT solution (float64, κ(H) ≈ 10²)");

        var cost = ObsGroupCost.Compute(inverse, w, q);
        var increase = 0.5 * Oracle.Dot(delta, Oracle.MatVec(h, d, delta));
        Assert.That(cost, Is.EqualTo(increase).Within(1e-10 * increase), "ρ_Q = ½δᵀHδ at the constrained optimum");
    }

    [Test]
    public void GroupCost_OfAGroupAcrossBlocks_IsTheSumOverBlocks()
    {
        var d = 12;
        var h = Oracle.RandomSpd(new Random(9), d);
        var blocks = BlockLayout.Create(d, 5);
        var inverse = new DenseCurvature(h, d, 0, layout: blocks);
        var w = Oracle.RandomVector(new Random(10), d);
        int[] q = [3, 4, 5, 6, 11];
        var parts = new[] { new[] { 3, 4 }, [5, 6], [11] }.Sum(part => ObsGroupCost.Compute(inverse, w, part));
        Assert.That(ObsGroupCost.Compute(inverse, w, q), Is.EqualTo(parts).Within(1e-12));
        Assert.That(ObsGroupCost.Compute(new IdentityCurvature(d), w, q), Is.EqualTo(0.5 * q.Sum(i => w[i] * w[i])).Within(1e-15), "H⁻¹ = I: ½‖w_Q‖²");
    }

    [Test]
    public void NofM_ChoosesTheCheapestSubsetOfEachGroup()
    {
        var (_, inverse) = Curvature(8, seed: 11);
        var w = Oracle.RandomVector(new Random(12), 8);
        var layout = new PatternLayout([8], [[1, 8]]);
        var mask = PatternSelection.Select(PruningPattern.NofM(2, 4), layout, w, inverse, [], 0.5);
        foreach (var g in new[] { 0, 4 })
        {
            var pairs = from a in Enumerable.Range(g, 4) from b in Enumerable.Range(g, 4) where a < b select new[] { a, b };
            var best = pairs.MinBy(pair => ObsGroupCost.Compute(inverse, w, pair))!;
            Assert.That(Enumerable.Range(g, 4).Where(i => !mask[i]), Is.EqualTo(best), $"group at {g}");
        }
    }

    [TestCase("2:4")]
    [TestCase("1:4")]
    [TestCase("block:1x4")]
    [TestCase("neurons")]
    public void ObsUnderAPattern_LosesLessThanMagnitudeUnderIt(string text)
    {
        // A quadratic loss ½(w − w*)ᵀH(w − w*) with strongly correlated H: OBS with the exact inverse and the joint update
        // against magnitude (H⁻¹ = I, no update) under the same pattern, at the same sparsity.
        var d = 87;
        var rng = new Random(13);
        var spectrum = Enumerable.Range(0, d).Select(i => Math.Pow(10, -3 * (double)i / d)).ToArray();
        var h = SpectralMatrices.FromSpectrum(SpectralMatrices.RandomOrthogonal(rng, d), spectrum);
        var inverse = new DenseCurvature(h, d, 1e-6);
        var w = Oracle.RandomVector(rng, d);
        var pattern = PruningPattern.Parse(text);
        var sparsity = pattern.Kind == PatternKind.NofM ? pattern.NofMSparsity : 0.5;
        var options = new PrunerOptions { Pattern = pattern, Segments = Segments, SegmentShapes = Shapes, PrunableSegments = Prunable, Sparsity = sparsity };
        var obs = new Pruner(options).Prune(w, inverse);
        var magnitude = new Pruner(options with { Method = PruningMethod.Magnitude, Update = UpdateMode.None }).Prune(w, new IdentityCurvature(d));
        Assert.That(obs.Mask, Is.EqualTo(PatternSelection.Select(pattern, new PatternLayout(Segments, Shapes, Prunable), w, inverse, [], sparsity)));
        Assert.That(Oracle.Quadratic(h, obs.Weights, w), Is.LessThan(Oracle.Quadratic(h, magnitude.Weights, w)));
    }

    [Test]
    public void Pruner_WithRecomputeSteps_ReachesTheNofMPatternAtTheLastStep()
    {
        var d = 87;
        var (_, inverse) = Curvature(d, seed: 14);
        var w = Oracle.RandomVector(new Random(15), d);
        var options = new PrunerOptions { Pattern = PruningPattern.NofM(2, 4), Segments = Segments, SegmentShapes = Shapes, PrunableSegments = Prunable, RecomputeSteps = 3 };
        var result = new Pruner(options).Prune(w, inverse);
        var achieved = result.Steps.Select(s => s.AchievedSparsity).ToArray();
        Assert.That(achieved, Is.Ordered.Ascending);
        Assert.That(achieved[0], Is.GreaterThan(0).And.LessThan(0.5));
        var layout = new PatternLayout(Segments, Shapes, Prunable);
        Assert.That(PatternSelection.Sparsity(options.Pattern, layout, result.Mask), Is.EqualTo(30.0 / 78), "2 of every 4: fc1 rows 4+4+2 prune 2+2+0 of 10, fc2 rows 4+2 prune 2 of 6");
        Assert.That(Enumerable.Range(0, d).Where(i => !result.Mask[i]).All(i => result.Weights[i] == 0), "pruned weights are exactly zero");
    }

    [Test]
    public void Parse_SpellsEveryPatternOnce()
    {
        Assert.Multiple(() =>
        {
            foreach (var t in new[] { "unstructured", "2:4", "1:4", "4:8", "block:1x4", "block:4x1", "neurons" })
                Assert.That(PruningPattern.Parse(t).ToString(), Is.EqualTo(t));
            Assert.That(PruningPattern.Parse("2:4").NofMSparsity, Is.EqualTo(0.5));
            Assert.That(() => PruningPattern.Parse("4:2"), Throws.TypeOf<FormatException>().With.Message.Contains("N < M"));
            Assert.That(() => PruningPattern.Parse("block:1x1"), Throws.TypeOf<FormatException>());
            Assert.That(() => PruningPattern.Parse("rows"), Throws.TypeOf<FormatException>().With.Message.Contains("neurons"));
            Assert.That(() => PatternSelection.Select(PruningPattern.Neurons, new PatternLayout([10]), new double[10], new IdentityCurvature(10), [], 0.5),
                Throws.ArgumentException.With.Message.Contains("shapes"));
        });
    }

    private static (double[] H, DenseCurvature Inverse) Curvature(int d, int seed)
    {
        var h = Oracle.RandomSpd(new Random(seed), d);
        return (h, new DenseCurvature(h, d, 0));
    }
}
