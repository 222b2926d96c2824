using WoodFisher.IO;
using static WoodFisher.Cli.Tests.FisherTestSupport;
using static WoodFisher.Cli.Tests.PruneTestSupport;

namespace WoodFisher.Cli.Tests;

/// <summary>
/// All or nothing for verbs that write several files: a destination that cannot be written (here a directory standing
/// where a later file goes; tests run as root, so a read-only directory would not stop them) is refused before the work
/// starts, and no file of the set appears; a failure after the work (a non-finite result) leaves nothing either.
/// </summary>
[NonParallelizable]
public class OutputsTests : CliFixture
{
    private string[] Entries() => [.. Directory.GetFileSystemEntries(Dir).Select(Path.GetFileName).Order()!];

    private void AssertRefused(string[] args, string mention, params string[] before)
    {
        var (code, stdout, stderr) = Run(args);
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stdout, Is.Empty, "refused before any work");
        Assert.That(Lines(stderr).Where(l => l.StartsWith("woodfisher:", StringComparison.Ordinal)).Single(), Does.Contain(mention));
        Assert.That(Entries(), Is.EqualTo(before.Order().ToArray()), "nothing of the set was written");
    }

    [Test]
    public void Train_PlotPathIsADirectory_WritesNeitherModelNorLog()
    {
        Directory.CreateDirectory(P("log.png"));
        AssertRefused(["train", "--arch", "mlp:784-8-10", "--data", SliceDir, "--epochs", "1", "--out", P("m.safetensors"), "--log", P("log.csv")],
            "--log (its plot): ", "log.png");
    }

    [Test]
    public void Grads_LayoutPathIsADirectory_WritesNoGradients()
    {
        var model = TrainedMlp(Dir);
        Directory.CreateDirectory(P("g.json"));
        AssertRefused(["grads", "--model", model, "--data", SliceDir, "--samples", "10", "--out", P("g.npy"), "--layout", P("g.json")],
            "--layout: ", "dense.safetensors", "g.json");
    }

    [Test]
    public void Fisher_ALaterHeatmapIsADirectory_WritesNoNpzAndNoEarlierHeatmap()
    {
        WriteGradients(P("G.npy"), RandomGradients(12, 40, seed: 2), 12, 40, float32: true);
        Directory.CreateDirectory(P("hm_block_2.png"));
        AssertRefused(["fisher", "--grads", P("G.npy"), "--block", "10", "--out", P("inv.npz"), "--heatmap", P("hm")], "--heatmap: ", "G.npy", "hm_block_2.png");
    }

    [Test]
    public void Study_OutIsAFile_IsRefused()
    {
        File.WriteAllText(P("out"), "x");
        AssertRefused(["study", "--data", SliceDir, "--out", P("out")], "--out: ", "out");
    }

    [Test]
    public void Demo_ReportIsADirectory_WritesNoModel()
    {
        Directory.CreateDirectory(P("r.md"));
        AssertRefused(["demo", "--quick", "--data", SliceDir, "--out", P("dense.safetensors"), "--report", P("r.md")], "--report: ", "r.md");
    }

    [Test]
    public void Gradual_OutAndLogTheSameFile_IsRefused()
    {
        var model = TrainedMlp(Dir);
        AssertRefused(["gradual", "--model", model, "--data", SliceDir, "--sparsity", "0.5", "--epochs", "2", "--out", P("x"), "--log", P("x")],
            "--log and --out name the same file", "dense.safetensors");
    }

    // The work ran and produced a non-finite result: the error names it, and none of the four outputs appears.
    [Test]
    public void Prune_NonFiniteResultAfterTheWork_WritesNoneOfItsOutputs()
    {
        var rng = new Random(4);
        Npy.Write(P("w.npy"), Enumerable.Range(0, 30).Select(_ => rng.NextDouble() - 0.5).ToArray(), 30);
        Npy.Write(P("g.npy"), Enumerable.Range(0, 300).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray(), 10, 30);
        var (code, stdout, stderr) = Run("prune", "--weights", P("w.npy"), "--grads", P("g.npy"), "--method", "woodtaylor", "--taylor-step", "1e308",
            "--sparsity", "0.5", "--out", P("w2.npy"), "--mask", P("m.npy"), "--scores", P("s.npy"), "--report", P("r.json"));
        Assert.That(code, Is.EqualTo(1), stderr);
        Assert.That(stdout, Is.Empty);
        Assert.That(stderr, Does.Contain("non-finite").And.Contain("--taylor-step"));
        Assert.That(Entries(), Is.EqualTo(new[] { "g.npy", "w.npy" }));
    }

    // ihvp of vectors near the top of float64's range overflows: refused, not written as Inf.
    [Test]
    public void Ihvp_OverflowingResult_IsAnErrorNotAFileOfInfinities()
    {
        WriteGradients(P("G.npy"), RandomGradients(8, 20, seed: 3), 8, 20, float32: true);
        Npy.Write(P("V.npy"), Enumerable.Repeat(1e305, 20).ToArray(), 20);
        var (code, _, stderr) = Run("ihvp", "--grads", P("G.npy"), "--block", "10", "--damping", "1e-5", "--vector", P("V.npy"), "--out", P("U.npy"));
        Assert.That(code, Is.EqualTo(1), stderr);
        Assert.That(stderr, Does.Contain("non-finite"));
        Assert.That(File.Exists(P("U.npy")), Is.False);
    }

    // --memory sets the budget that sizes from files and options are checked against, on every verb: a tiny budget refuses
    // the inverse before it is allocated (a runtime failure, exit 1); a budget that is not a size is a usage error (exit 2).
    [Test]
    public void Memory_SetsTheBudget_AndRefusesAnInverseThatWouldNotFit()
    {
        WriteGradients(P("G.npy"), RandomGradients(12, 400, seed: 2), 12, 400, float32: true);
        var (code, _, stderr) = Run("fisher", "--grads", P("G.npy"), "--block", "200", "--memory", "64K", "--out", P("inv.npz"));
        Assert.That(code, Is.EqualTo(1), stderr);
        Assert.That(stderr, Does.Contain("memory budget"));
        Assert.That(File.Exists(P("inv.npz")), Is.False);

        (code, _, stderr) = Run("fisher", "--grads", P("G.npy"), "--memory", "8Q", "--out", P("inv.npz"));
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("--memory: \"8Q\" is not a memory size"));

        (code, _, stderr) = Run("fisher", "--grads", P("G.npy"), "--block", "200", "--memory", "1G", "--out", P("inv.npz"));
        Assert.That(code, Is.Zero, stderr);
    }
}
