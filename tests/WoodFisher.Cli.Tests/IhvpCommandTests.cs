using System.Globalization;
using WoodFisher.Cli.Infrastructure;
using WoodFisher.IO;
using static WoodFisher.Cli.Tests.FisherTestSupport;

namespace WoodFisher.Cli.Tests;

/// <summary><c>woodfisher ihvp</c>: U = F̂⁻¹V against NumPy's per-block solve; bad vectors fail cleanly.</summary>
[NonParallelizable]
public class IhvpCommandTests : CliFixture
{
    [TestCase(1, "float64")]
    [TestCase(3, "float32")]
    public void Ihvp_MatchesNumPySolve(int k, string precision)
    {
        const int m = 50, d = 90;
        WriteGradients(P("G.npy"), RandomGradients(m, d, seed: 21), m, d, float32: false);
        var v = RandomGradients(k, d, seed: 22);
        if (k == 1)
            Npy.Write(P("V.npy"), v, d);
        else
            Npy.Write(P("V.npy"), v, k, d);
        var (code, _, stderr) = CliFixture.Run("ihvp", "--grads", P("G.npy"), "--block", "32", "--damping", "0.1",
            "--precision", precision, "--vector", P("V.npy"), "--out", P("U.npy"));
        Assert.That(code, Is.Zero, stderr);
        Assert.That(Npy.Read(P("U.npy")).Shape, Is.EqualTo(k == 1 ? new long[] { d } : new long[] { k, d }));

        const string script = """
            import sys, numpy as np
            g = np.load(sys.argv[1]); v = np.atleast_2d(np.load(sys.argv[2])); u = np.atleast_2d(np.load(sys.argv[3])); c = int(sys.argv[4]); lam = 0.1
            m, d = g.shape
            want = np.empty_like(v)
            for off in range(0, d, c):
                gb = g[:, off:off + c]
                want[:, off:off + c] = np.linalg.solve(lam * np.eye(gb.shape[1]) + gb.T @ gb / m, v[:, off:off + c].T).T
            print(repr(np.abs(u - want).max() / np.abs(want).max()))
            """;
        var err = double.Parse(RunNumPy(script, P("G.npy"), P("V.npy"), P("U.npy"), "32").Trim(), CultureInfo.InvariantCulture);
        // float64 storage agrees to rounding; float32 storage to a few ulps times log10(κ).
        Assert.That(err, Is.LessThan(precision == "float64" ? 1e-10 : 1e-4));
    }

    [TestCase(new long[] { 89 }, "expected shape")]
    [TestCase(new long[] { 2, 91 }, "expected shape")]
    [TestCase(new long[] { 2, 3, 90 }, "expected shape")]
    public void Ihvp_WrongVectorShape_FailsWithOneLineAndNoOutput(long[] shape, string message)
    {
        WriteGradients(P("G.npy"), RandomGradients(10, 90, seed: 1), 10, 90, float32: true);
        long n = shape.Aggregate(1L, (a, b) => a * b);
        Npy.Write(P("V.npy"), new double[n], shape);
        var (code, _, stderr) = CliFixture.Run("ihvp", "--grads", P("G.npy"), "--block", "32", "--damping", "0.1",
            "--vector", P("V.npy"), "--out", P("U.npy"));
        Assert.That(code, Is.Not.Zero);
        Assert.That(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Exactly(1).StartsWith("woodfisher:").And.Contain(message));
        Assert.That(File.Exists(P("U.npy")), Is.False);
    }

    [Test]
    public void Ihvp_MissingVector_Fails()
    {
        WriteGradients(P("G.npy"), RandomGradients(10, 40, seed: 1), 10, 40, float32: true);
        var (code, _, stderr) = CliFixture.Run("ihvp", "--grads", P("G.npy"), "--block", "8", "--damping", "0.1",
            "--vector", P("nope.npy"), "--out", P("U.npy"));
        Assert.That(code, Is.Not.Zero);
        Assert.That(stderr, Does.Contain("no such file"));
        Assert.That(File.Exists(P("U.npy")), Is.False);
    }
}
