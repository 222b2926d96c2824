using WoodFisher.IO;
using WoodFisher.Pruning;

namespace WoodFisher.Cli.Tests;

/// <summary>Full WoodFisher (<c>--block full</c>) and the memory plan of <c>woodfisher prune</c>; in-process, so not parallel.</summary>
[NonParallelizable]
public class ScaleCommandTests : CliFixture
{
    private const int D = 50;
    private const int M = 12;

    private double[] WriteInputs()
    {
        var rng = new Random(4);
        var w = Enumerable.Range(0, D).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var g = Enumerable.Range(0, M * D).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        Npy.Write(P("w.npy"), w, D);
        Npy.Write(P("g.npy"), g, M, D);
        return w;
    }

    // Oracle: the library's FullWoodFisherCurvature (itself tested against the dense inverse) and Pruner on the same rows.
    [Test]
    public void Prune_BlockFull_MatchesTheLibraryFullInverse()
    {
        var w = WriteInputs();
        var (code, _, stderr) = Run("prune", "--weights", P("w.npy"), "--grads", P("g.npy"), "--method", "woodfisher", "--block", "full",
            "--damping", "1e-2", "--segments", "20,30", "--sparsity", "0.6", "--out", P("w2.npy"), "--mask", P("mask.npy"));
        Assert.That(code, Is.Zero, stderr);

        using var source = new NpyGradientSource(P("g.npy"));
        var inverse = FullWoodFisherCurvature.FromGradients(source, 1e-2);
        var expected = new Pruner(new PrunerOptions { Method = PruningMethod.WoodFisher, Sparsity = 0.6, Segments = [20, 30] }).Prune(w, inverse);
        Assert.Multiple(() =>
        {
            Assert.That(Npy.Read(P("mask.npy")).GetData<bool>(), Is.EqualTo(expected.Mask));
            Assert.That(Npy.Read(P("w2.npy")).GetData<double>(), Is.EqualTo(expected.Weights).Within(1e-12));
        });
    }

    [Test]
    public void Fisher_BlockFull_IsAUsageError()
    {
        WriteInputs();
        var (code, _, stderr) = Run("fisher", "--grads", P("g.npy"), "--block", "full", "--out", P("inv.npz"));
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(2));
            Assert.That(stderr, Does.Contain("--block full"));
            Assert.That(File.Exists(P("inv.npz")), Is.False);
        });
    }
}
