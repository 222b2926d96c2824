using WoodFisher.Cli.Commands;
using WoodFisher.Cli.Infrastructure;
using WoodFisher.IO;
using WoodFisher.Models;
using WoodFisher.Models.Data;
using WoodFisher.Models.Training;
using WoodFisher.Pruning;

namespace WoodFisher.Cli.Tests;

/// <summary>Runs <c>woodfisher study</c> in-process on the embedded Fashion-MNIST slice (Console is process-wide: not parallel).</summary>
[NonParallelizable]
public class StudyCommandTests : CliFixture
{
    private static string SliceDir() => PruneTestSupport.SliceDir;

    /// <summary>mlp:784-8-10:nobias trained for one epoch on the slice, saved as safetensors.</summary>
    private string TinyModelFile()
    {
        var train = DataSets.LoadEmbedded("train");
        var model = ModelFactory.Create("mlp:784-8-10:nobias", seed: 2);
        Trainer.Train(model, train.Images, train.Labels, train.Count, new TrainerOptions { Epochs = 1, Seed = 2 });
        var path = Path.Combine(Dir, "tiny.safetensors");
        SafeTensors.Write(path, model.StateDict().Select(kv => new NamedArray(kv.Key, NdArray.Create(kv.Value.Data, kv.Value.Shape.Select(s => (long)s).ToArray()))));
        return path;
    }

    [Test]
    public void Study_OnTheEmbeddedSlice_WritesSummaryCsvsAndPngs()
    {
        var model = TinyModelFile();
        var outDir = Path.Combine(Dir, "out");
        var (code, stdout, stderr) = CliFixture.Run("study", "--model", model, "--data", SliceDir(), "--layers", "fc2", "--samples", "200",
            "--weights-sampled", "40", "--sparsity", "0.5,0.9", "--out", outDir);
        Assert.That(code, Is.Zero, stderr);

        var summary = File.ReadAllText(Path.Combine(outDir, "summary.md"));
        Assert.Multiple(() =>
        {
            Assert.That(stdout, Does.Contain(Path.Combine(outDir, "summary.md")));
            Assert.That(stderr, Does.Contain("exact Hessian: done (80 steps)"), "a progress line per phase");
            Assert.That(summary, Does.Contain("d = 80"));
            Assert.That(summary, Does.Contain("| exact | 0.000 | 0.000 | 0.000 | 1.000 |"), "the exact estimator is the reference");
            Assert.That(summary, Does.Match(@"\*\*\d+ of 80 eigenvalues negative\*\*"));
            foreach (var section in new[] { "## Matrix fidelity", "## Curvature matrices", "## Loss-change prediction", "## One-shot pruning", "## Cost" })
                Assert.That(summary, Does.Contain(section));
            foreach (var csv in new[] { "fidelity", "fidelity_blocks", "curvature_matrices", "loss_change", "loss_change_correlations", "pruning_curves", "cost" })
                Assert.That(File.Exists(Path.Combine(outDir, csv + ".csv")), csv);
            Assert.That(File.ReadAllLines(Path.Combine(outDir, "pruning_curves.csv")), Has.Length.EqualTo(1 + (5 * 2 * 2) + (1 * 2)), "magnitude has no update to compare");
            Assert.That(File.ReadAllLines(Path.Combine(outDir, "loss_change.csv")), Has.Length.EqualTo(1 + (6 * 40)));
            Assert.That(CliPlots.PngSize(Path.Combine(outDir, "pruning_curves.png")), Is.EqualTo((1000, 650)));
            Assert.That(CliPlots.PngSize(Path.Combine(outDir, "loss_change_woodfisher_block50.png")), Is.EqualTo((StudyRendering.PlotWidth, StudyRendering.PlotHeight)));
            Assert.That(CliPlots.PngSize(Path.Combine(outDir, "heatmap_block0.png")).Height, Is.EqualTo(420));
            Assert.That(Directory.GetFiles(outDir, "*.tmp*"), Is.Empty, "no temporary files left");
        });
    }

    [Test]
    public void Study_RefusesLayersWhoseHessianIsTooLarge_WithBytesAndAHint()
    {
        var model = TinyModelFile();
        var (code, _, stderr) = CliFixture.Run("study", "--model", model, "--data", SliceDir(), "--layers", "fc1", "--out", Path.Combine(Dir, "out"));
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(2), "a usage error");
            Assert.That(stderr, Does.Contain("d = 6,272").And.Contain("bytes").And.Contain("--layers"));
            Assert.That(Directory.Exists(Path.Combine(Dir, "out")), Is.False, "the output directory it created is removed again");
            Assert.That(stderr.Trim().Split('\n'), Has.Length.EqualTo(1), "one line");
        });
    }

    [Test]
    public void Layers_ByDefault_TheTrailingLayersThatFit_OrTheNamedOnes()
    {
        var model = ModelFactory.Create("mlp:784-40-20-10:nobias");
        Assert.Multiple(() =>
        {
            Assert.That(StudyCommand.TrailingLayers(model, 2000).Entries.Select(e => e.Name), Is.EqualTo(new[] { "fc2.weight", "fc3.weight" }));
            Assert.That(StudyCommand.TrailingLayers(model, 100).Entries.Select(e => e.Name), Is.EqualTo(new[] { "fc3.weight" }), "at least the last layer");
            Assert.That(CliModels.Select(model, "fc1, fc3.weight", false).Dimension, Is.EqualTo((784 * 40) + 200));
        });
    }

    [Test]
    public void MethodList_SplitsSpecsAndKeepsTheirKeys()
    {
        var specs = MethodSpec.ParseList("exact:treatment=clip,woodfisher:block=50,damping=1e-4,kfac", new EstimatorSpec { Damping = 1e-5, Samples = 300 }).Select(m => m.Estimator).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(specs.Select(s => s.Label), Is.EqualTo(new[] { "exact:treatment=clip", "woodfisher:block=50,damping=1e-4", "kfac" }));
            Assert.That(specs[0].Treatment, Is.EqualTo(IndefiniteTreatment.Clip));
            Assert.That(specs[1].Damping.Value, Is.EqualTo(1e-4));
            Assert.That(specs[2].Damping.Value, Is.EqualTo(1e-5));
            Assert.That(specs.Select(s => s.Samples), Is.All.EqualTo(300));
        });
    }

    [Test]
    public void PngSize_RejectsAFileThatIsNotAPng()
    {
        var path = Path.Combine(Dir, "x.png");
        File.WriteAllBytes(path, new byte[32]);
        Assert.That(() => CliPlots.PngSize(path), Throws.TypeOf<InvalidDataException>().With.Message.Contains("not a PNG"));
    }
}
