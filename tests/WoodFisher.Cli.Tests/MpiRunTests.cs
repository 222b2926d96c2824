using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using WoodFisher.IO;
using WoodFisher.Models;

namespace WoodFisher.Cli.Tests;

/// <summary>
/// The real thing: <c>mpirun --allow-run-as-root --oversubscribe -np N dotnet woodfisher.dll …</c> with the same command
/// line as a single-process run, whose outputs are the oracle — the same mask and scores, weights and inverse blocks
/// equal (each rank builds its blocks from the same rows with the same strategy and panels; compared with a float32
/// rounding tolerance all the same). N = 2 and 3 (uneven ranges). Skipped where Open MPI is not installed.
/// </summary>
[NonParallelizable]
[Category("Mpi")]
public class MpiRunTests : CliFixture
{
    private static string CliDll => Path.ChangeExtension(typeof(Program).Assembly.Location, ".dll");

    [SetUp]
    public void RequireOpenMpi()
    {
        if (FindOnPath("mpirun") is null)
            Assert.Ignore("mpirun is not installed (Debian: apt-get install openmpi-bin libopenmpi-dev)");
        if (!File.Exists("/usr/lib/x86_64-linux-gnu/libmpi.so.40") && !File.Exists("/usr/lib/aarch64-linux-gnu/libmpi.so.40") && !NativeLibrary())
            Assert.Ignore("Open MPI's libmpi.so.40 is not installed");
    }

    private static bool NativeLibrary() => System.Runtime.InteropServices.NativeLibrary.TryLoad("libmpi.so.40", out _);

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    private static Process StartMpi(int ranks, params string[] args)
    {
        var psi = new ProcessStartInfo("mpirun") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in new[] { "--allow-run-as-root", "--oversubscribe", "-np", ranks.ToString(CultureInfo.InvariantCulture), "dotnet", CliDll }.Concat(args))
            psi.ArgumentList.Add(a);
        psi.Environment["CI"] = "true";
        psi.Environment["TERM"] = "dumb";
        var p = Process.Start(psi)!;
        p.StandardInput.Close();
        return p;
    }

    private static (int Code, string Out, string Err) RunMpi(int ranks, params string[] args)
    {
        using var p = StartMpi(ranks, args);
        var err = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(180_000))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"mpirun -np {ranks} did not finish in 3 minutes: {err.Result}");
        }

        return (p.ExitCode, stdout, err.Result);
    }

    /// <summary>G (m × d float32) with columns of different scales, and w (float32).</summary>
    private (string G, string W) TensorProblem(int m, int d, int seed, int nanColumn = -1)
    {
        var rng = new Random(seed);
        var g = new float[m * d];
        for (var i = 0; i < g.Length; i++)
            g[i] = (float)((rng.NextDouble() - 0.5) * (1 + (i % d % 5)));
        if (nanColumn >= 0)
            g[(3 * d) + nanColumn] = float.NaN;
        var w = Enumerable.Range(0, d).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        Npy.Write(P("G.npy"), g, m, d);
        Npy.Write(P("w.npy"), w, d);
        return (P("G.npy"), P("w.npy"));
    }

    [TestCase(2)]
    [TestCase(3)]
    public void TensorMode_UnderMpirun_EqualsTheSingleProcessRun(int ranks)
    {
        var (g, w) = TensorProblem(30, 2500, ranks);
        string[] common = ["prune", "--weights", w, "--grads", g, "--segments", "900,101,1499", "--block", "50", "--damping", "1e-3", "--sparsity", "0.8", "--method", "woodtaylor", "--taylor-step", "0.3"];
        var single = Run([.. common, "--out", P("w1.npy"), "--mask", P("m1.npy"), "--scores", P("s1.npy")]);
        Assert.That(single.Code, Is.Zero, single.Err);
        var (code, stdout, err) = RunMpi(ranks, [.. common, "--out", P("wr.npy"), "--mask", P("mr.npy"), "--scores", P("sr.npy"), "--report", P("r.json")]);
        Assert.That(code, Is.Zero, err);

        Assert.That(Npy.Read(P("mr.npy")).AsSpan<bool>().ToArray(), Is.EqualTo(Npy.Read(P("m1.npy")).AsSpan<bool>().ToArray()), "the mask");
        Assert.That(Npy.Read(P("sr.npy")).AsSpan<double>().ToArray(), Is.EqualTo(Npy.Read(P("s1.npy")).AsSpan<double>().ToArray()), "the scores");
        var expected = Npy.Read(P("w1.npy")).AsSpan<float>().ToArray();
        Assert.That(Npy.Read(P("wr.npy")).AsSpan<float>().ToArray(), Is.EqualTo(expected).Within(1e-6f), "the weights");

        var report = JsonNode.Parse(File.ReadAllText(P("r.json")))!;
        Assert.That(report["Ranks"]!.AsArray(), Has.Count.EqualTo(ranks));
        Assert.That(report["Communicator"]!.GetValue<string>(), Does.Contain("Open MPI"));
        for (var r = 0; r < ranks; r++)
            Assert.That(err, Does.Contain($"rank {r} of {ranks} ("), "each rank's bytes and seconds are printed");
        Assert.That(stdout, Does.Contain("sparsity=0.8"));
    }

    [Test]
    public void LayoutMode_UnderMpirun_EqualsTheSingleProcessRun()
    {
        var rng = new Random(4);
        float[] Floats(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5))];
        SafeTensors.Write(P("model.safetensors"),
        [
            new NamedArray("conv.weight", NdArray.Create(Floats(8 * 3 * 3 * 3), 8, 3, 3, 3)),
            new NamedArray("conv.bias", NdArray.Create(Floats(8), 8)),
            new NamedArray("fc.weight", NdArray.Create(Enumerable.Range(0, 10 * 72).Select(_ => rng.NextDouble() - 0.5).ToArray(), 10, 72)),
            new NamedArray("head.weight", NdArray.Create(Floats(4 * 10), 4, 10)),
        ]);
        const int m = 20, d = 216 + 720 + 40;
        File.WriteAllText(P("G.json"), """
            {"rows": 20, "minibatch": 1, "dimension": 976, "segments": [
              {"name": "conv.weight", "shape": [8, 3, 3, 3], "offset": 0, "length": 216},
              {"name": "fc.weight", "shape": [10, 72], "offset": 216, "length": 720},
              {"name": "head.weight", "shape": [4, 10], "offset": 936, "length": 40}]}
            """);
        Npy.Write(P("G.npy"), Floats(m * d), m, d);
        string[] common = ["prune", "--model", P("model.safetensors"), "--grads", P("G.npy"), "--layout", P("G.json"), "--layers", "conv,fc", "--block", "40", "--damping", "1e-2", "--sparsity", "0.6"];
        var single = Run([.. common, "--out", P("p1.safetensors"), "--mask", P("m1.safetensors")]);
        Assert.That(single.Code, Is.Zero, single.Err);
        var (code, _, err) = RunMpi(3, [.. common, "--out", P("p3.safetensors"), "--mask", P("m3.safetensors")]);
        Assert.That(code, Is.Zero, err);

        var one = SafeTensors.Read(P("p1.safetensors"));
        var three = SafeTensors.Read(P("p3.safetensors"));
        Assert.That(three.Tensors.Select(t => t.Name), Is.EqualTo(one.Tensors.Select(t => t.Name)));
        Assert.That(three["conv.weight"].AsSpan<float>().ToArray(), Is.EqualTo(one["conv.weight"].AsSpan<float>().ToArray()).Within(1e-6f));
        Assert.That(three["fc.weight"].AsSpan<double>().ToArray(), Is.EqualTo(one["fc.weight"].AsSpan<double>().ToArray()).Within(1e-6));
        Assert.That(three["head.weight"].AsSpan<float>().ToArray(), Is.EqualTo(one["head.weight"].AsSpan<float>().ToArray()), "not in --layers: kept as it was");
        var m1 = SafeTensors.Read(P("m1.safetensors"));
        var m3 = SafeTensors.Read(P("m3.safetensors"));
        foreach (var name in new[] { "conv.weight", "fc.weight", "head.weight" })
            Assert.That(m3[name].AsSpan<bool>().ToArray(), Is.EqualTo(m1[name].AsSpan<bool>().ToArray()), $"mask of {name}");
    }

    [TestCase(2)]
    [TestCase(3)]
    public void ModelMode_UnderMpirun_EqualsTheSingleProcessRun(int ranks)
    {
        // Every rank computes the same per-sample gradients and keeps its columns: the rows, blocks and mask are the
        // single-process run's; weights are compared with a float32 rounding tolerance all the same.
        var model = PruneTestSupport.TrainedMlp(Dir);
        string[] common = ["prune", "--model", model, "--data", PruneTestSupport.SliceDir, "--sparsity", "0.8", "--method", "woodfisher", "--block", "64", "--samples", "64", "--damping", "1e-3"];
        var single = Run([.. common, "--out", P("p1.safetensors"), "--mask", P("m1.npy"), "--report", P("r1.json")]);
        Assert.That(single.Code, Is.Zero, single.Err);
        var (code, stdout, err) = RunMpi(ranks, [.. common, "--out", P("pr.safetensors"), "--mask", P("mr.npy"), "--report", P("rr.json")]);
        Assert.That(code, Is.Zero, err);

        Assert.That(Npy.Read(P("mr.npy")).AsSpan<bool>().ToArray(), Is.EqualTo(Npy.Read(P("m1.npy")).AsSpan<bool>().ToArray()), "the mask");
        var one = ModelFiles.Load(P("p1.safetensors"));
        var many = ModelFiles.Load(P("pr.safetensors"));
        Assert.That(many.Spec, Is.EqualTo(one.Spec));
        foreach (var (a, b) in one.Parameters.Zip(many.Parameters))
            Assert.That(b.Data, Is.EqualTo(a.Data).Within(1e-6f), a.Name);
        var r1 = JsonNode.Parse(File.ReadAllText(P("r1.json")))!;
        var rr = JsonNode.Parse(File.ReadAllText(P("rr.json")))!;
        Assert.That(rr["Ranks"]!.AsArray(), Has.Count.EqualTo(ranks));
        foreach (var key in new[] { "Dense", "Pruned" })
            Assert.That(rr[key]!["Accuracy"]!.GetValue<double>(), Is.EqualTo(r1[key]!["Accuracy"]!.GetValue<double>()), key);
        Assert.That(stdout, Does.Contain("pruned_accuracy="));
    }

    [TestCase("--method", "kfac", "does not run under mpirun in model mode")]
    [TestCase("--pattern", "block:1x4", "--pattern block:1x4 does not run under mpirun")]
    [TestCase("--damping", "auto", "--damping auto (the default) does not run under mpirun")]
    public void ModelMode_AMethodOrPatternThatNeedsTheWholeModel_IsRefusedOnce(string option, string value, string message)
    {
        var model = PruneTestSupport.TrainedMlp(Dir);
        var (code, _, err) = RunMpi(2, "prune", "--model", model, "--data", PruneTestSupport.SliceDir, "--sparsity", "0.5", option, value, "--out", P("p.safetensors"));
        Assert.That(code, Is.EqualTo(2));
        var messages = PruneTestSupport.Lines(err).Where(l => l.StartsWith("woodfisher: ", StringComparison.Ordinal)).ToList();
        Assert.That(messages, Has.Count.EqualTo(1), err);
        Assert.That(messages[0], Does.Contain(message));
        Assert.That(Directory.GetFiles(Dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "dense.safetensors" }), "no output, no temporary");
    }

    [Test]
    public void Fisher_UnderMpirun_WritesTheSingleProcessBlocks()
    {
        var (g, _) = TensorProblem(25, 1300, 9);
        string[] common = ["fisher", "--grads", g, "--segments", "700,600", "--block", "64", "--damping", "1e-3"];
        var single = Run([.. common, "--out", P("f1.npz")]);
        Assert.That(single.Code, Is.Zero, single.Err);
        var (code, _, err) = RunMpi(3, [.. common, "--out", P("f3.npz")]);
        Assert.That(code, Is.Zero, err);
        var one = Npz.Read(P("f1.npz"));
        var three = Npz.Read(P("f3.npz"));
        Assert.That(three.Select(a => a.Name), Is.EqualTo(one.Select(a => a.Name)), "diag, then every block in order");
        for (var i = 0; i < one.Count; i++)
            Assert.That(three[i].Array.AsSpan<float>().ToArray(), Is.EqualTo(one[i].Array.AsSpan<float>().ToArray()).Within(1e-6f), one[i].Name);
    }

    [Test]
    public void BadColumnsOnOneRank_StopEveryRank_WithOneMessage_AndNoOutput()
    {
        // Column 2,400 lies in the last rank's range: only that rank reads the NaN.
        var (g, w) = TensorProblem(10, 2500, 1, nanColumn: 2400);
        var (code, _, err) = RunMpi(3, "prune", "--weights", w, "--grads", g, "--block", "50", "--damping", "1e-3", "--sparsity", "0.5", "--out", P("out.npy"), "--report", P("r.json"));
        Assert.That(code, Is.Not.Zero);
        // Progress lines start with the method's label ("woodfisher: d = … started"); the failure is the one line naming a rank.
        var messages = PruneTestSupport.Lines(err).Where(l => l.StartsWith("woodfisher: rank", StringComparison.Ordinal) || l.Contains("not finite", StringComparison.Ordinal)).ToList();
        Assert.That(messages, Has.Count.EqualTo(1), err);
        Assert.That(messages[0], Is.EqualTo("woodfisher: rank 2 of 3: Gradient row 3, column 2400 is NaN (not finite). Check the loss for overflow or divide-by-zero before building the inverse."));
        Assert.That(err, Does.Not.Contain("interrupted"), "the ranks leave together after rank 0 has printed: mpirun has no rank to stop");
        Assert.That(Directory.GetFiles(Dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "G.npy", "w.npy" }), "no output, no temporary");
    }

    [Test]
    public void AKilledRank_EndsTheRun_WithNoOutput()
    {
        var (g, w) = TensorProblem(64, 40_000, 2);
        using var p = StartMpi(2, "prune", "--weights", w, "--grads", g, "--block", "1000", "--damping", "1e-3", "--sparsity", "0.5", "--out", P("out.npy"));
        var err = new System.Text.StringBuilder();
        var started = new ManualResetEventSlim();
        p.ErrorDataReceived += (_, e) =>
        {
            lock (err)
                err.AppendLine(e.Data);
            if (e.Data?.Contains(": started", StringComparison.Ordinal) == true)
                started.Set();
        };
        p.BeginErrorReadLine();
        Assert.That(started.Wait(120_000), Is.True, "the ranks start building");
        var victim = RankProcess(p.Id, 1);
        Assert.That(victim, Is.Not.Null, "rank 1's process");
        Process.GetProcessById(victim!.Value).Kill();
        p.StandardOutput.ReadToEnd();
        Assert.That(p.WaitForExit(120_000), Is.True, "mpirun ends the other rank");
        Assert.That(p.ExitCode, Is.Not.Zero);
        string text;
        lock (err)
            text = err.ToString();
        Assert.That(text, Does.Contain("signal 9"), "mpirun names the killed rank");
        Assert.That(Directory.GetFiles(Dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "G.npy", "w.npy" }), "no output, no temporary");
    }

    [Test]
    public void AVerbThatDoesNotRunDistributed_IsRefusedOnce()
    {
        var (code, _, err) = RunMpi(2, "train", "--arch", "mlp:784-10", "--epochs", "1", "--out", P("m.safetensors"));
        Assert.That(code, Is.EqualTo(2));
        var messages = PruneTestSupport.Lines(err).Where(l => l.StartsWith("woodfisher: ", StringComparison.Ordinal)).ToList();
        Assert.That(messages, Has.Count.EqualTo(1));
        Assert.That(messages[0], Does.Contain("does not run under mpirun"));
    }

    /// <summary>The process under <paramref name="launcher"/> whose environment has OMPI_COMM_WORLD_RANK = <paramref name="rank"/>.</summary>
    private static int? RankProcess(int launcher, int rank)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            foreach (var dir in Directory.GetDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out var pid))
                    continue;
                try
                {
                    var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                    var parent = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
                    if (parent != launcher)
                        continue;
                    var environ = File.ReadAllText(Path.Combine(dir, "environ")).Split('\0');
                    if (environ.Contains($"OMPI_COMM_WORLD_RANK={rank}"))
                        return pid;
                }
                catch (IOException)
                {
                }
                catch (UnauthorizedAccessException)
                {
                }
            }

            Thread.Sleep(50);
        }

        return null;
    }
}
