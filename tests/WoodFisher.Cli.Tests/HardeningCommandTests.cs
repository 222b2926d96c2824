using System.Buffers.Binary;
using System.Text;
using WoodFisher.IO;
using WoodFisher.Kernels;

namespace WoodFisher.Cli.Tests;

/// <summary>Hostile files and oversized requests end in one line and a non-zero exit, never a crash or an abort.</summary>
[NonParallelizable]
public class HardeningCommandTests : CliFixture
{
    private string SafeTensorsFile(string name, string json, int dataBytes = 0)
    {
        var header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        File.WriteAllBytes(P(name), bytes);
        return P(name);
    }

    private static void AssertOneLineFailure(int code, string stdout, string stderr, string expected)
    {
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(1), stderr);
            Assert.That(stderr.TrimEnd().Split('\n'), Has.Length.EqualTo(1), stderr);
            Assert.That(stderr, Does.StartWith("woodfisher: ").And.Contain(expected));
            Assert.That(stdout + stderr, Does.Not.Contain("   at "), "no stack trace");
        });
    }

    [Test]
    public void Eval_TinyFileClaimingAHugeArchitecture_IsRefusedBeforeBuilding()
    {
        var path = SafeTensorsFile("tiny.safetensors",
            """{"__metadata__":{"woodfisher.arch":"mlp:46000-46000-10"},"fc1.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 4);
        var (code, stdout, stderr) = Run("eval", "--model", path, "--data", PruneTestSupport.SliceDir);
        AssertOneLineFailure(code, stdout, stderr, "does not fit mlp:46000-46000-10");
    }

    [Test]
    public void Eval_PyTorchPickle_IsNamedAsSuch()
    {
        File.WriteAllBytes(P("model.pt"), [0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0, 8, 0, .. new byte[100]]);
        var (code, stdout, stderr) = Run("eval", "--model", P("model.pt"), "--data", PruneTestSupport.SliceDir);
        AssertOneLineFailure(code, stdout, stderr, "not a safetensors file (looks like a PyTorch pickle; save with safetensors.torch.save_file)");
    }

    [Test]
    public void Fisher_WhoseOutputDoesNotFitTheBudget_IsRefusedBeforeReadingGradients()
    {
        const int d = 20_000;
        Npy.Write(P("G.npy"), new float[2 * d], 2, d);
        var options = new WoodFisherOptions { BlockSize = 1, Damping = 0.1 };
        var builder = WoodFisherBuilder.EstimateBytes(d, options, 2);
        using var budget = MemoryBudget.Override(builder + (1 << 20));
        var (code, stdout, stderr) = Run("fisher", "--grads", P("G.npy"), "--block", "1", "--damping", "0.1", "--out", P("inv.npz"));
        AssertOneLineFailure(code, stdout, stderr, "fisher: the inverse of d = 20,000 in 20,000 blocks and the .npz that holds them");
        Assert.That(File.Exists(P("inv.npz")), Is.False);
    }

    [Test]
    public void Prune_TensorModeBeyondTheBudget_IsRefusedBeforeTheInverse()
    {
        const int d = 4096;
        Npy.Write(P("w.npy"), new float[d], d);
        Npy.Write(P("g.npy"), new float[4 * d], 4, d);
        using var budget = MemoryBudget.Override(200 << 10);
        var (code, stdout, stderr) = Run("prune", "--weights", P("w.npy"), "--grads", P("g.npy"), "--method", "woodfisher", "--sparsity", "0.5",
            "--block", "64", "--damping", "1e-3", "--out", P("w2.npy"), "--mask", P("mask.npy"));
        AssertOneLineFailure(code, stdout, stderr, "prune: d = 4,096 weights and their inverse curvature");
        Assert.That(File.Exists(P("w2.npy")) || File.Exists(P("mask.npy")), Is.False);
    }

    [Test]
    public void Inspect_EscapesControlCharactersInNamesAndMetadata()
    {
        var path = SafeTensorsFile("evil.safetensors",
            """{"__metadata__":{"note":"\u001b]0;pwned\u0007"},"w\u001b[2J":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 4);
        var (code, stdout, stderr) = Run("inspect", path);
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.Zero, stderr);
            Assert.That(stdout, Does.Not.Contain("\u001b").And.Not.Contain("\u0007"));
            Assert.That(stdout, Does.Contain(@"w\x1b[2J").And.Contain(@"\x1b]0;pwned\x07"));
        });
    }

    [Test]
    public void Study_OnAPyTorchModelWithDeadUnits_Runs()
    {
        // tests/scripts/dead_units_mlp.py --hidden 12-8 --epochs 2 --seed 1: 6 of 12 and 1 of 8 hidden units dead on the
        // first 200 training images, so the exact Hessian of fc2, fc3 (d = 176) has whole zero rows.
        var model = Path.Combine(TestContext.CurrentContext.TestDirectory, "Data", "mlp-784-12-8-10-dead-units.safetensors");
        var (code, _, stderr) = Run("study", "--model", model, "--data", PruneTestSupport.SliceDir, "--layers", "fc2,fc3", "--samples", "200",
            "--weights-sampled", "20", "--sparsity", "0.5", "--method", "exact,woodfisher:block=50", "--out", P("study"));
        Assert.That(code, Is.Zero, stderr);
        Assert.That(File.ReadAllText(P("study/summary.md")), Does.Contain("d = 176"));
    }
}
