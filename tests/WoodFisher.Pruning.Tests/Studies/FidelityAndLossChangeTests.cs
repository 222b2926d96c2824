using WoodFisher.Kernels;
using WoodFisher.Pruning.Studies;

namespace WoodFisher.Pruning.Tests.Studies;

public class FidelityAndLossChangeTests
{
    private static double[] RandomSpd(int d, int seed) => Oracle.RandomSpd(new Random(seed), d, shift: 0.1);

    private static double[] RandomVector(int d, int seed) => Oracle.RandomVector(new Random(seed), d);

    [Test]
    public void Fidelity_OfTheExactInverse_IsZero_AndIdentityAgainstItselfToo()
    {
        const int d = 12;
        var layout = BlockLayout.Create(d, 5, [7, 5]);
        var exact = new DenseCurvature(RandomSpd(d, 1), d, 1e-3);
        var dense = StudyMatrices.ToDense(exact);
        var row = FidelityStudy.Compare("exact", dense, dense, layout);
        Assert.Multiple(() =>
        {
            Assert.That(row.Full, Is.Zero);
            Assert.That(row.WithinBlocks, Is.Zero);
            Assert.That(row.Diagonal, Is.Zero);
            Assert.That(row.Cosine, Is.EqualTo(1).Within(1e-14));
            Assert.That(row.PerBlock, Has.Length.EqualTo(layout.Count).And.All.Zero);
        });

        var identity = StudyMatrices.ToDense(new IdentityCurvature(d));
        Assert.That(FidelityStudy.Compare("identity", identity, identity, layout).Full, Is.Zero);
    }

    // The block-diagonal truncation of H⁻¹ (the exact inverse's own blocks, zero elsewhere) has no error within the blocks
    // and a full error equal to the norm of the dropped off-block entries over ‖H⁻¹‖_F.
    [Test]
    public void Fidelity_OfTheBlockDiagonalTruncation_IsZeroWithinBlocks_AndTheOffBlockMassOverall()
    {
        const int d = 10;
        var layout = BlockLayout.Create(d, 4);
        var exact = StudyMatrices.ToDense(new DenseCurvature(RandomSpd(d, 2), d, 1e-3));
        var truncated = new double[d * d];
        double off = 0;
        for (var i = 0; i < d; i++)
        {
            for (var j = 0; j < d; j++)
            {
                if (layout.Locate(i).Block == layout.Locate(j).Block)
                {
                    truncated[(i * d) + j] = exact[(i * d) + j];
                }
                else
                {
                    off += exact[(i * d) + j] * exact[(i * d) + j];
                }
            }
        }

        var row = FidelityStudy.Compare("truncated", truncated, exact, layout);
        Assert.Multiple(() =>
        {
            Assert.That(row.WithinBlocks, Is.Zero);
            Assert.That(row.Diagonal, Is.Zero);
            Assert.That(row.Full, Is.EqualTo(Math.Sqrt(off) / StudyMetrics.Frobenius(exact)).Within(1e-14));
        });
    }

    [Test]
    public void ToDense_OfBlockDiagonalEstimates_MatchesColumnsOfMultiply()
    {
        const int d = 9;
        var blocked = new DenseCurvature(RandomSpd(d, 3), d, 1e-2, layout: BlockLayout.Create(d, 4));
        var dense = StudyMatrices.ToDense(blocked);
        for (var j = 0; j < d; j++)
        {
            var e = new double[d];
            e[j] = 1;
            var col = blocked.Multiply(e);
            for (var i = 0; i < d; i++)
            {
                Assert.That(dense[(i * d) + j], Is.EqualTo(col[i]).Within(1e-15), $"({i},{j})");
            }
        }
    }

    // On a quadratic loss at its minimum (g = 0), removing w_q with the exact OBS update changes the loss by exactly
    // ½δᵀHδ = w_q²/(2[H⁻¹]_qq): prediction and measurement agree to rounding, so both correlations are 1.
    [Test]
    public void LossChange_OnAQuadraticAtItsMinimum_PredictionEqualsMeasurement()
    {
        const int d = 15;
        var h = RandomSpd(d, 4);
        var w = RandomVector(d, 5);
        var loss = new QuadraticLoss(h, w, constant: 0.7);
        var exact = new DenseCurvature(h, d, 0);
        var indices = LossChangeStudy.SampleIndices(w, 10, seed: 6);
        var r = LossChangeStudy.Run("exact", exact, w, indices, loss);
        Assert.Multiple(() =>
        {
            Assert.That(indices, Has.Length.EqualTo(10).And.Unique.And.Ordered);
            Assert.That(r.Actual, Is.EqualTo(r.Predicted).Within(1e-12));
            Assert.That(r.Pearson, Is.EqualTo(1).Within(1e-12));
            Assert.That(r.Spearman, Is.EqualTo(1).Within(1e-12));
            Assert.That(r.FirstOrder, Is.All.Zero);
        });
    }

    // Away from the minimum the quadratic model needs its first-order term: actual = ρ_q + gᵀδ exactly.
    [Test]
    public void LossChange_WithAGradient_IsPredictedByTheFirstOrderTermPlusRho()
    {
        const int d = 8;
        var h = RandomSpd(d, 7);
        var w = RandomVector(d, 8);
        var g = RandomVector(d, 9);
        var loss = new QuadraticLoss(h, w, g);
        var r = LossChangeStudy.Run("exact", new DenseCurvature(h, d, 0), w, Enumerable.Range(0, d).ToArray(), loss, g);
        for (var t = 0; t < d; t++)
        {
            Assert.That(r.Actual[t], Is.EqualTo(r.Predicted[t] + r.FirstOrder[t]).Within(1e-12), $"q = {t}");
        }

        Assert.That(r.PearsonWithGradient, Is.EqualTo(1).Within(1e-12));
    }

    // A wrong curvature (identity instead of H) mispredicts: its measured changes are ½δᵀHδ for δ = −w_q e_q, i.e. ½H_qq w_q².
    [Test]
    public void LossChange_WithTheIdentity_MeasuresTheTrueCurvatureAlongTheRemovedCoordinate()
    {
        const int d = 6;
        var h = RandomSpd(d, 10);
        var w = RandomVector(d, 11);
        var r = LossChangeStudy.Run("identity", new IdentityCurvature(d), w, Enumerable.Range(0, d).ToArray(), new QuadraticLoss(h, w));
        for (var q = 0; q < d; q++)
        {
            Assert.That(r.Predicted[q], Is.EqualTo(w[q] * w[q] / 2).Within(1e-15));
            Assert.That(r.Actual[q], Is.EqualTo(0.5 * h[(q * d) + q] * w[q] * w[q]).Within(1e-12));
        }
    }

    [Test]
    public void SampleIndices_SkipsZeros_IsSeeded_AndCapsAtTheNonZeroCount()
    {
        double[] w = [0, 1, 0, 2, 3, 0, 4];
        var first = LossChangeStudy.SampleIndices(w, 2, 5);
        var again = LossChangeStudy.SampleIndices(w, 2, 5);
        Assert.Multiple(() =>
        {
            Assert.That(LossChangeStudy.SampleIndices(w, 10, 0), Is.EqualTo(new[] { 1, 3, 4, 6 }));
            Assert.That(again, Is.EqualTo(first));
            Assert.That(first, Has.Length.EqualTo(2).And.All.Not.AnyOf(0, 2, 5));
        });
    }
}
