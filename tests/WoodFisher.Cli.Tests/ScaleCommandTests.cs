using WoodFisher.IO;
using WoodFisher.Kernels;
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
        var (code, stdout, stderr) = Run("prune", "--weights", P("w.npy"), "--grads", P("g.npy"), "--method", "woodfisher", "--block", "full",
            "--damping", "1e-2", "--segments", "20,30", "--sparsity", "0.6", "--out", P("w2.npy"), "--mask", P("mask.npy"), "--report", P("r.json"));
        Assert.That(code, Is.Zero, stderr);
        var json = File.ReadAllText(P("r.json"));
        Assert.Multiple(() =>
        {
            Assert.That(stdout, Does.Contain("block=full"));
            Assert.That(json, Does.Contain("\"BlockSize\": \"full\"").And.Not.Contain(int.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            Assert.That(PruningReport.FromJson(json).Settings!.BlockSize, Is.EqualTo(EstimatorSpec.FullBlockSize), "read back");
            Assert.That(PruningReport.FromJson(json).Settings!.FisherSamples, Is.EqualTo(M), "the samples are G's rows, not --samples' default");
        });

        using var source = new NpyGradientSource(P("g.npy"));
        var inverse = FullWoodFisherCurvature.FromGradients(source, 1e-2);
        var expected = new Pruner(new PrunerOptions { Method = PruningMethod.WoodFisher, Sparsity = 0.6, Segments = [20, 30] }).Prune(w, inverse);
        Assert.Multiple(() =>
        {
            Assert.That(Npy.Read(P("mask.npy")).GetData<bool>(), Is.EqualTo(expected.Mask));
            Assert.That(Npy.Read(P("w2.npy")).GetData<double>(), Is.EqualTo(expected.Weights).Within(1e-12));
        });
    }

    private string[] TwoPassArgs(string @out, params string[] extra) =>
    [
        "prune", "--weights", P("big-w.npy"), "--grads", P("big-g.npy"), "--method", "woodfisher", "--block", "100", "--damping", "1e-3",
        "--precision", "float64", "--sparsity", "0.6", "--out", P(@out), "--mask", P(@out + ".mask.npy"), .. extra,
    ];

    // Oracle: the same command without --memory (in memory); two passes give the same mask and the same weights to rounding.
    [Test]
    public void Prune_UnderASmallMemoryBudget_PrintsTheTwoPassPlan_AndMatchesInMemory()
    {
        const int d = 12_000;
        const int m = 16;
        var rng = new Random(8);
        Npy.Write(P("big-w.npy"), Enumerable.Range(0, d).Select(_ => rng.NextDouble() - 0.5).ToArray(), d);
        Npy.Write(P("big-g.npy"), Enumerable.Range(0, m * d).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray(), m, d);
        var (code, _, stderr) = Run(TwoPassArgs("mem.npy"));
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stderr, Does.Contain("prune: in memory"));

        var inMemory = PassPlan.Create(BlockLayout.Create(d, 100), m, new WoodFisherOptions { BlockSize = 100, Damping = 1e-3, Precision = Precision.Float64 },
            MemoryBudget.Product(d, TensorPruning.VectorBytesPerWeight), budget: long.MaxValue);
        var budget = (inMemory.TotalBytes - 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        (code, _, stderr) = Run(TwoPassArgs("two.npy", "--memory", budget));
        Assert.That(code, Is.Zero, stderr);
        Assert.Multiple(() =>
        {
            Assert.That(stderr, Does.Contain("prune: two passes over").And.Contain("working set").And.Contain("blocks").And.Contain("read buffers").And.Contain("scratch"));
            Assert.That(Npy.Read(P("two.npy.mask.npy")).GetData<bool>(), Is.EqualTo(Npy.Read(P("mem.npy.mask.npy")).GetData<bool>()));
            Assert.That(Npy.Read(P("two.npy")).GetData<double>(), Is.EqualTo(Npy.Read(P("mem.npy")).GetData<double>()).Within(1e-10));
        });

        (code, _, stderr) = Run(TwoPassArgs("none.npy", "--memory", "200K"));
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(1));
            Assert.That(stderr, Does.StartWith("woodfisher: ").And.Contain("even in two passes over groups of one block"));
            Assert.That(File.Exists(P("none.npy")), Is.False, "refused before any output");
        });
    }

    private string[] ModelArgs(string model, string @out, params string[] extra) =>
    [
        "prune", "--model", model, "--data", PruneTestSupport.SliceDir, "--method", "woodfisher", "--block", "64", "--samples", "64",
        "--damping", "1e-3", "--precision", "float64", "--sparsity", "0.8", "--out", P(@out), "--mask", P(@out + ".mask.npy"), .. extra,
    ];

    // Oracle: the same model-mode command without --memory; gradients computed in chunks and two passes give the same bits.
    [Test]
    public void ModelPrune_UnderASmallMemoryBudget_ChunksTheGradients_InTwoPasses_AndMatchesInMemory()
    {
        var model = PruneTestSupport.TrainedMlp(Dir);
        var (code, _, stderr) = Run(ModelArgs(model, "mem.safetensors"));
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stderr, Does.Contain("prune: in memory, one group of all blocks from whole rows"));

        var loaded = Models.ModelFiles.Load(model);
        var train = Models.Data.DataSets.Load(PruneTestSupport.SliceDir, "train");
        var curvature = new ModelCurvature(loaded, Models.ParameterSelection<float>.Prunable(loaded), train.Images, train.Labels);
        var spec = EstimatorSpec.Parse("woodfisher:block=64,samples=64,damping=1e-3,precision=float64");
        long budget = 1L << 30;
        for (; ; budget = budget * 9 / 10)
        {
            using var _ = MemoryBudget.Override(budget);
            if (curvature.Plan(spec)!.TwoPass)
                break;
        }

        (code, _, stderr) = Run(ModelArgs(model, "two.safetensors", "--memory", budget.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.That(code, Is.Zero, stderr);
        Assert.Multiple(() =>
        {
            Assert.That(stderr, Does.Contain("prune: two passes over").And.Contain("gradients produced").And.Contain("working set"));
            Assert.That(Npy.Read(P("two.safetensors.mask.npy")).GetData<bool>(), Is.EqualTo(Npy.Read(P("mem.safetensors.mask.npy")).GetData<bool>()));
            Assert.That(Models.ModelFiles.Load(P("two.safetensors")).Parameters.SelectMany(p => p.Data.ToArray()),
                Is.EqualTo(Models.ModelFiles.Load(P("mem.safetensors")).Parameters.SelectMany(p => p.Data.ToArray())));
        });

        // Just below the smallest two-pass working set (still above what loading the data needs).
        var refused = budget;
        while (Plans(curvature, spec, refused))
            refused = refused * 9 / 10;
        (code, _, stderr) = Run(ModelArgs(model, "none.safetensors", "--memory", refused.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(1));
            Assert.That(stderr, Does.StartWith("woodfisher: ").And.Contain("even in two passes over groups of one block").And.Contain("gradients produced"));
            Assert.That(stderr, Does.Not.Contain("dense evaluation"), "refused before any work");
            Assert.That(File.Exists(P("none.safetensors")), Is.False);
        });
    }

    private static bool Plans(ModelCurvature curvature, EstimatorSpec spec, long budget)
    {
        using var _ = MemoryBudget.Override(budget);
        try
        {
            return curvature.Plan(spec) is not null;
        }
        catch (InsufficientMemoryException)
        {
            return false;
        }
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
