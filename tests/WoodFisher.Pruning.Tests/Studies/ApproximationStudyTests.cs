using WoodFisher.Models;
using WoodFisher.Models.Data;
using WoodFisher.Models.Training;
using WoodFisher.Pruning.Studies;

namespace WoodFisher.Pruning.Tests.Studies;

public class ApproximationStudyTests
{
    private static (IModel<float> Model, Dataset Train, Dataset Test) TinyTrainedMlp()
    {
        var train = DataSets.LoadEmbedded("train").Take(400);
        var test = DataSets.LoadEmbedded("test").Take(200);
        var model = ModelFactory.Create("mlp:784-6-10:nobias", seed: 1);
        Trainer.Train(model, train.Images, train.Labels, train.Count, new TrainerOptions { Epochs = 2, Seed = 1 });
        return (model, train, test);
    }

    [Test]
    public void Study_OnATinyMlp_ScoresTheExactEstimatorZero_AndReportsEverything()
    {
        var (model, train, test) = TinyTrainedMlp();
        var selection = ParameterSelection<float>.ByNames(model, ["fc2.weight"]);
        var before = ParameterSelection<float>.Prunable(model);
        var w = new float[before.Dimension];
        before.Gather(w);
        var defaults = new EstimatorSpec { Samples = 150, Damping = 1e-4, Seed = 3 };
        var options = new StudyOptions
        {
            Estimators = [.. new[] { "exact", "woodfisher:block=20", "kfac", "diagfisher", "magnitude" }.Select(t => EstimatorSpec.Parse(t, defaults))],
            Samples = 150,
            Damping = 1e-4,
            Seed = 3,
            Sparsities = [0.5, 0.9],
            WeightsSampled = 25,
        };
        var phases = new List<string>();
        var result = ApproximationStudy.Run(model, selection, train, test, options, new Recorder(phases));

        var after = new float[before.Dimension];
        before.Gather(after);
        var exact = result.Fidelity.Single(f => f.Label == "exact");
        Assert.Multiple(() =>
        {
            Assert.That(after, Is.EqualTo(w), "the model's weights are restored");
            Assert.That(result.Dimension, Is.EqualTo(60));
            Assert.That(phases, Is.EqualTo(new[] { "exact Hessian", "exact inverse (eigendecomposition)", "estimators", "fidelity", "loss change", "pruning curves" }));
            Assert.That(exact.Full, Is.Zero);
            Assert.That(exact.Cosine, Is.EqualTo(1).Within(1e-12));
            Assert.That(result.ReferenceLayout.BlockSize, Is.EqualTo(20), "per-block errors use the WoodFisher layout");
            Assert.That(result.Fidelity.Single(f => f.Label == "magnitude").Full, Is.GreaterThan(0));
            Assert.That(result.Spectrum.NegativeEigenvalues, Is.InRange(0, 60));
            Assert.That(result.Matrices.Single(m => m.Matrix.StartsWith("Gauss", StringComparison.Ordinal)).RelativeFrobenius, Is.LessThan(1e-4),
                "for a linear last layer the Hessian of its weights is the Gauss–Newton matrix (up to float32 rounding)");
            Assert.That(result.LossChanges, Has.Count.EqualTo(5).And.All.Matches<LossChangeResult>(l => l.Indices.Length == 25 && double.IsFinite(l.Pearson)));
            Assert.That(result.Curves, Has.Count.EqualTo((4 * 2 * 2) + (1 * 2)), "magnitude has one curve: it has no update to vary");
            Assert.That(result.Curves.Select(p => p.Sparsity), Is.All.InRange(0.49, 0.91));
            Assert.That(result.Costs.Single(c => c.Label == "woodfisher:block=20").Bytes, Is.EqualTo(3 * 20 * 20 * 4));
            Assert.That(result.Heatmaps, Has.Count.EqualTo(1));
            Assert.That(result.Heatmaps[0].Estimates, Has.Count.EqualTo(5));
        });
    }

    // The removal of one weight of the last (linear) layer moves the logits linearly, so for a tiny weight the loss change
    // is its second-order Taylor expansion up to O(w³): with the exact Hessian the OBS prediction plus the first-order term
    // gᵀδ matches the measured change to within a few percent of the change.
    [Test]
    public void LossChange_ForTinyWeights_MatchesTheQuadraticModelOfTheExactHessian()
    {
        var (model, train, _) = TinyTrainedMlp();
        var selection = ParameterSelection<float>.ByNames(model, ["fc2.weight"]);
        var mc = new ModelCurvature(model, selection, train.Images, train.Labels);
        var w = mc.GetWeights().Select(v => v * 1e-2).ToArray();
        mc.SetWeights(w);
        var (x, y) = mc.Subset(200, 0);
        var h = ApproximationStudy.ExactHessian(model, selection, x, y, y.Length);
        var exact = new DenseCurvature(h, w.Length, 1e-6, IndefiniteTreatment.Absolute);
        var loss = new ModelLoss(model, selection, x, y);
        var r = LossChangeStudy.Run("exact", exact, w, LossChangeStudy.SampleIndices(w, 20, 1), loss, loss.Gradient(w));
        for (var t = 0; t < r.Actual.Length; t++)
        {
            var model2 = r.Predicted[t] + r.FirstOrder[t];
            Assert.That(r.Actual[t], Is.EqualTo(model2).Within((0.05 * Math.Abs(model2)) + 1e-9), $"weight {r.Indices[t]}");
        }
    }

    [Test]
    public void Study_RefusesAnExactHessianAboveTheLimit_StatingDAndBytes()
    {
        var (model, train, test) = TinyTrainedMlp();
        var selection = ParameterSelection<float>.Prunable(model);
        Assert.That(() => ApproximationStudy.Run(model, selection, train, test, new StudyOptions { Samples = 100, MaxExactDimension = 1000 }),
            Throws.TypeOf<InsufficientMemoryException>()
                .With.Message.Contains("d = 4,764")
                .And.Message.Contains($"{ApproximationStudy.RequiredBytes(4764):N0} bytes")
                .And.Message.Contains("fewer layers"));
    }

    [Test]
    public void DefaultEstimators_FollowTheStudySettings()
    {
        var o = new StudyOptions { Samples = 300, Damping = 1e-3, Seed = 4, Treatment = IndefiniteTreatment.Clip };
        Assert.Multiple(() =>
        {
            Assert.That(o.EffectiveEstimators.Select(s => s.Label), Is.EqualTo(new[] { "exact", "woodfisher:block=50", "woodfisher:block=200", "kfac", "diagfisher", "magnitude" }));
            Assert.That(o.EffectiveEstimators.Select(s => (s.Samples, s.Damping.Value, s.Seed)), Is.All.EqualTo((300, 1e-3, (int?)4)));
            Assert.That(o.EffectiveEstimators[0].Treatment, Is.EqualTo(IndefiniteTreatment.Clip));
        });
    }

    private sealed class Recorder(List<string> phases) : IProgress<StudyProgress>
    {
        public void Report(StudyProgress value)
        {
            Assert.That(value.Done, Is.InRange(0, value.Total));
            if (phases.Count == 0 || phases[^1] != value.Phase)
            {
                phases.Add(value.Phase);
            }
        }
    }
}
