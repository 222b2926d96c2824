using System.Globalization;
using WoodFisher.Cli.Infrastructure;
using WoodFisher.IO;
using static WoodFisher.Cli.Tests.FisherTestSupport;

namespace WoodFisher.Cli.Tests;

/// <summary><c>woodfisher fisher</c> against a float64 dense inverse and against NumPy; bad inputs fail cleanly.</summary>
[NonParallelizable]
public class FisherCommandTests : CliFixture
{
    // Block partition of d = 70 with segments 30,40 and c = 16: blocks restart at the segment boundary.
    private static readonly (int Offset, int Size)[] SegmentedBlocks = [(0, 16), (16, 14), (30, 16), (46, 16), (62, 8)];

    [TestCase("rank1", "float64", 1, 1e-9)]
    [TestCase("rankk", "float64", 1, 1e-9)]
    [TestCase("dense", "float64", 1, 1e-9)]
    [TestCase("auto", "float64", 3, 1e-9)]
    [TestCase("rankk", "float32", 1, 2e-5)]
    [TestCase("rank1", "float32", 2, 2e-5)]
    public void Fisher_BlocksAndDiagonal_EqualFloat64DenseInverse(string strategy, string precision, int minibatch, double tolerance)
    {
        // Tolerance relative to the block's largest entry: float64 Woodbury agrees to ~1e-12; float32 storage loses about
        // log10(κ) ≈ 1–2 digits of its 7 over m = 40 updates (λ = 0.1, entries of G in [−1, 1)).
        const int m = 40, d = 70;
        const double lambda = 0.1;
        var g = RandomGradients(m, d, seed: 11);
        WriteGradients(P("G.npy"), g, m, d, float32: false);
        var (code, stdout, stderr) = Run("fisher", "--grads", P("G.npy"), "--block", "16", "--damping", "0.1", "--segments", "30,40",
            "--strategy", strategy, "--precision", precision, "--minibatch", minibatch.ToString(CultureInfo.InvariantCulture), "--out", P("inv.npz"));
        Assert.That(code, Is.Zero, stderr);
        Assert.That(PruneTestSupport.Records(stdout, "blocks").Single()["blocks"], Is.EqualTo("5"));

        var (ga, rows) = MiniBatchAverage(g, m, d, minibatch);
        var arrays = Npz.Read(P("inv.npz")).ToDictionary(a => a.Name, a => a.Array);
        Assert.That(arrays.Keys, Is.EqualTo(new[] { "diag", "block_0", "block_1", "block_2", "block_3", "block_4" }));
        Assert.That(arrays["diag"].DType, Is.EqualTo(precision == "float32" ? DType.Float32 : DType.Float64));
        var diag = arrays["diag"].ToFloat64();
        Assert.That(diag, Has.Length.EqualTo(d));
        for (int b = 0; b < SegmentedBlocks.Length; b++)
        {
            var (off, c) = SegmentedBlocks[b];
            var expected = DenseBlockInverse(ga, rows, d, off, c, lambda, rows);
            var block = arrays[$"block_{b}"];
            Assert.That(block.Shape, Is.EqualTo(new long[] { c, c }));
            var actual = block.ToFloat64();
            double scale = expected.Max(Math.Abs);
            for (int i = 0; i < c * c; i++)
                Assert.That(actual[i], Is.EqualTo(expected[i]).Within(tolerance * scale), $"block {b} entry ({i / c}, {i % c})");
            for (int i = 0; i < c; i++)
                Assert.That(diag[off + i], Is.EqualTo(expected[(i * c) + i]).Within(tolerance * scale), $"diag {off + i}");
        }
    }

    [Test]
    public void Fisher_Layout_RestartsBlocksLikeTheSameSegments()
    {
        const int m = 40, d = 70;
        WriteGradients(P("G.npy"), RandomGradients(m, d, seed: 3), m, d, float32: true);
        new GradientLayout([new("a.weight", [5, 6], 0, 30), new("b.weight", [40], 30, 40)], rows: m).Write(P("G.json"));
        var (code, _, stderr) = Run("fisher", "--grads", P("G.npy"), "--block", "16", "--layout", P("G.json"), "--out", P("layout.npz"));
        Assert.That(code, Is.Zero, stderr);
        (code, _, stderr) = Run("fisher", "--grads", P("G.npy"), "--block", "16", "--segments", "30,40", "--out", P("segments.npz"));
        Assert.That(code, Is.Zero, stderr);
        var a = Npz.Read(P("layout.npz"));
        var b = Npz.Read(P("segments.npz"));
        Assert.That(a.Select(x => x.Name), Is.EqualTo(b.Select(x => x.Name)));
        Assert.That(a.Select(x => x.Array.ToFloat64()), Is.EqualTo(b.Select(x => x.Array.ToFloat64())));
        (code, _, stderr) = Run("fisher", "--grads", P("G.npy"), "--layout", P("G.json"), "--segments", "30,40", "--out", P("both.npz"));
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("--layout or --segments"));
    }

    [Test]
    public void Fisher_Npz_LoadsInNumPy_AndMatchesNumPyInverse()
    {
        const int m = 64, d = 100;
        WriteGradients(P("G.npy"), RandomGradients(m, d, seed: 5), m, d, float32: true);
        var (code, _, stderr) = Run("fisher", "--grads", P("G.npy"), "--block", "32", "--damping", "0.05", "--out", P("inv.npz"));
        Assert.That(code, Is.Zero, stderr);

        // NumPy as the oracle: member names, shapes, dtypes, and inv(lam*I + Gb.T @ Gb / N) per block, in float64.
        const string script = """
            import sys, numpy as np
            z = np.load(sys.argv[1]); g = np.load(sys.argv[2]).astype(np.float64); lam = float(sys.argv[3]); c = int(sys.argv[4])
            m, d = g.shape
            names = sorted(z.files, key=lambda n: (n != 'diag', int(n.split('_')[1]) if n.startswith('block_') else -1))
            print(' '.join(names))
            print(' '.join(str(z[n].shape) + z[n].dtype.str for n in names))
            err = 0.0
            for b, off in enumerate(range(0, d, c)):
                gb = g[:, off:off + c]
                inv = np.linalg.inv(lam * np.eye(gb.shape[1]) + gb.T @ gb / m)
                err = max(err, np.abs(z['block_%d' % b] - inv).max() / np.abs(inv).max(),
                          np.abs(z['diag'][off:off + c] - np.diag(inv)).max() / np.abs(inv).max())
            print(repr(err))
            """;
        var lines = RunNumPy(script, P("inv.npz"), P("G.npy"), "0.05", "32").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines[0], Is.EqualTo("diag block_0 block_1 block_2 block_3"));
        Assert.That(lines[1], Is.EqualTo("(100,)<f4 (32, 32)<f4 (32, 32)<f4 (32, 32)<f4 (4, 4)<f4"));
        // float32 storage: relative error a few ulps times log10(κ) (κ ≲ 100 here).
        Assert.That(double.Parse(lines[2], CultureInfo.InvariantCulture), Is.LessThan(1e-4));
    }

    [Test]
    public void Fisher_Heatmap_WritesPngAndCsvOfFirstBlocks()
    {
        const int m = 20, d = 40;
        WriteGradients(P("G.npy"), RandomGradients(m, d, seed: 2), m, d, float32: true);
        var (code, _, stderr) = Run("fisher", "--grads", P("G.npy"), "--block", "16", "--damping", "0.1", "--out", P("inv.npz"), "--heatmap", P("hm"));
        Assert.That(code, Is.Zero, stderr);
        for (int b = 0; b < 3; b++)
        {
            var png = File.ReadAllBytes(P($"hm_block_{b}.png"));
            Assert.That(png[..4], Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }));
            var csv = File.ReadAllLines(P($"hm_block_{b}.csv"));
            int c = b < 2 ? 16 : 8;
            Assert.That(csv, Has.Length.EqualTo(c));
            Assert.That(csv[0].Split(','), Has.Length.EqualTo(c));
        }
        Assert.That(Directory.GetFiles(Dir, ".*"), Is.Empty, "no temp files left");
    }

    private static IEnumerable<TestCaseData> BadInputs()
    {
        yield return new TestCaseData("lambda0", new[] { "--damping", "0" }, "damping").SetName("Fisher_ZeroDamping_Fails");
        yield return new TestCaseData("lambdaneg", new[] { "--damping", "-1" }, "damping").SetName("Fisher_NegativeDamping_Fails");
        yield return new TestCaseData("nan", Array.Empty<string>(), "not finite").SetName("Fisher_NaNGradient_Fails");
        yield return new TestCaseData("missing", Array.Empty<string>(), "no such file").SetName("Fisher_MissingFile_Fails");
        yield return new TestCaseData("fortran", Array.Empty<string>(), "Fortran").SetName("Fisher_FortranOrderNpy_Fails");
        yield return new TestCaseData("segments", new[] { "--segments", "10,10" }, "sum").SetName("Fisher_SegmentsNotSummingToD_Fails");
        yield return new TestCaseData("strategy", new[] { "--strategy", "fast" }, "strategy").SetName("Fisher_UnknownStrategy_Fails");
    }

    [TestCaseSource(nameof(BadInputs))]
    public void Fisher_BadInput_FailsWithOneLineAndNoOutput(string kind, string[] extra, string message)
    {
        const int m = 8, d = 24;
        var g = RandomGradients(m, d, seed: 3);
        if (kind == "nan")
            g[(5 * d) + 7] = double.NaN;
        var grads = P("G.npy");
        if (kind == "fortran")
            WriteFortranOrder(grads, g, m, d);
        else if (kind != "missing")
            WriteGradients(grads, g, m, d, float32: true);

        string[] args = ["fisher", "--grads", grads, "--block", "8", "--damping", "0.1", "--out", P("inv.npz"), .. extra];
        var (code, stdout, stderr) = Run(args);
        Assert.That(code, Is.Not.Zero);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("woodfisher:", StringComparison.Ordinal)).ToList();
        Assert.That(lines, Has.Count.EqualTo(1), stderr);
        Assert.That(lines[0], Does.Contain(message).IgnoreCase);
        Assert.That(File.Exists(P("inv.npz")), Is.False);
        Assert.That(Directory.GetFiles(Dir).Select(Path.GetFileName), Is.SubsetOf(new[] { "G.npy" }), "no partial or temp output left behind");
    }

    /// <summary>A valid .npy header with fortran_order True (the bytes are the transposed data, as NumPy writes them).</summary>
    internal static void WriteFortranOrder(string path, double[] g, int m, int d)
    {
        var header = $"{{'descr': '<f8', 'fortran_order': True, 'shape': ({m}, {d}), }}";
        int total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + ((64 - (total % 64)) % 64)) + "\n";
        using var f = File.Create(path);
        f.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        f.Write(BitConverter.GetBytes((ushort)header.Length));
        f.Write(System.Text.Encoding.ASCII.GetBytes(header));
        for (int j = 0; j < d; j++)
        {
            for (int i = 0; i < m; i++)
                f.Write(BitConverter.GetBytes(g[(i * d) + j]));
        }
    }
}
