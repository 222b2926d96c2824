using WoodFisher.Kernels;
using WoodFisher.Models;

namespace WoodFisher.Pruning.Tests;

/// <summary>The estimator registry builds what the estimators' own constructors build, and refuses what it cannot.</summary>
public class RegistryTests
{
    /// <summary>An in-memory gradient source: m rows of d, two segments.</summary>
    private sealed class Rows(float[] g, int m, int d, int[] segments) : IGradientSource
    {
        private int _next;

        public int Dimension => d;

        public long Count => m;

        public IReadOnlyList<int> Segments => segments;

        public int Read(Span<float> buffer, int maxRows)
        {
            var n = Math.Min(maxRows, m - _next);
            g.AsSpan(_next * d, n * d).CopyTo(buffer);
            _next += n;
            return n;
        }

        public void Reset() => _next = 0;
    }

    private static Rows Gradients(int m = 30, int d = 24)
    {
        var rng = new Random(3);
        return new Rows([.. Enumerable.Range(0, m * d).Select(_ => (float)(rng.NextDouble() - 0.5))], m, d, [10, 14]);
    }

    // Oracle: the same estimator built by its own constructor from the same rows; the registry adds only the vocabulary.
    [Test]
    public void FromGradients_EqualsTheEstimatorsOwnConstruction()
    {
        var spec = new EstimatorSpec { BlockSize = 6, Damping = 1e-2, Precision = Precision.Float64 };
        using var wf = (WoodFisherCurvature)PruningMethod.WoodFisher.FromGradients(Gradients(), spec);
        using var direct = WoodFisherCurvature.FromGradients(Gradients(), new WoodFisherOptions { BlockSize = 6, Damping = 1e-2, Precision = Precision.Float64, Segments = [10, 14] });
        var diag = PruningMethod.DiagonalFisher.FromGradients(Gradients(), spec);
        Assert.Multiple(() =>
        {
            Assert.That(wf.Diagonal(), Is.EqualTo(direct.Diagonal()).Within(1e-12), "bitwise up to summation order");
            Assert.That(wf.Layout.Count, Is.EqualTo(direct.Layout.Count), "blocks restart at the source's segments");
            Assert.That(diag.Diagonal(), Is.EqualTo(DiagonalFisherCurvature.FromGradients(Gradients(), 1e-2).Diagonal()));
            Assert.That(PruningMethod.Magnitude.FromGradients(Gradients(), spec), Is.TypeOf<IdentityCurvature>());
            Assert.That(PruningMethod.WoodTaylor.FromGradients(Gradients(), spec).Diagonal(), Is.EqualTo(wf.Diagonal()).Within(1e-12), "WoodTaylor's inverse is WoodFisher's");
        });
    }

    [Test]
    public void MethodsThatNeedAModel_RefuseGradientRowsAlone()
    {
        foreach (var m in PruningMethod.All.Where(m => m.NeedsModel))
            Assert.That(() => m.FromGradients(Gradients(), new EstimatorSpec()), Throws.TypeOf<NotSupportedException>().With.Message.Contains("needs the model"), m.Name);
        Assert.That(PruningMethod.All.Where(m => m.NeedsModel).Select(m => m.Name), Is.EquivalentTo(new[] { "kfac", "exact" }));
    }

    // Magnitude's identity inverse makes the joint update a no-op on the kept weights: "joint" and "none" are one result,
    // and the report says none, as the demo does.
    [Test]
    public void Magnitude_HasNoUpdate_WhateverIsRequested()
    {
        double[] w = [0.5, -2, 0.1, 3, -0.2, 1];
        var joint = new Pruner(new PrunerOptions { Method = PruningMethod.Magnitude, Update = UpdateMode.Joint, Sparsity = 0.5 }).Prune(w, (CurvatureFactory?)null);
        var none = new Pruner(new PrunerOptions { Method = PruningMethod.Magnitude, Update = UpdateMode.None, Sparsity = 0.5 }).Prune(w, (CurvatureFactory?)null);
        var options = new PrunerOptions { Method = PruningMethod.Magnitude, Update = UpdateMode.Joint, Sparsity = 0.5 };
        Assert.Multiple(() =>
        {
            Assert.That(joint.Weights, Is.EqualTo(none.Weights));
            Assert.That(joint.Weights, Is.EqualTo(new double[] { 0, -2, 0, 3, 0, 1 }));
            Assert.That(options.EffectiveUpdate, Is.EqualTo(UpdateMode.None));
            Assert.That(PruningReport.Create(options, joint).Update, Is.EqualTo(UpdateMode.None));
        });
    }

    [Test]
    public void Vocabulary_ReadsEachValueOnce_AndNamesWhatItExpected()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Vocabulary.Sparsity("0.9"), Is.EqualTo(0.9));
            Assert.That(() => Vocabulary.Sparsity("90%"), Throws.TypeOf<FormatException>().With.Message.EqualTo("\"90%\" is not a number in [0, 1)"));
            Assert.That(() => Vocabulary.Positive("Infinity"), Throws.TypeOf<FormatException>());
            Assert.That(() => Vocabulary.Damping("NaN"), Throws.TypeOf<FormatException>());
            Assert.That(() => Vocabulary.Update("jiont"), Throws.TypeOf<FormatException>().With.Message.Contains("did you mean joint"));
            Assert.That(Vocabulary.List("0.5, 0.9", Vocabulary.Sparsity), Is.EqualTo(new[] { 0.5, 0.9 }));
            Assert.That(Vocabulary.Name(Vocabulary.Selection("layerwise")), Is.EqualTo("layerwise"));
            Assert.That(Vocabulary.Precision("float64"), Is.EqualTo(Precision.Float64));
        });
    }
}
