using System.Diagnostics;
using System.Runtime.InteropServices;
using WoodFisher.Models;
using static WoodFisher.Cli.Tests.PruneTestSupport;

namespace WoodFisher.Cli.Tests;

/// <summary>
/// Interrupted runs leave nothing: the built <c>woodfisher</c> is started as a real process, signalled while its output
/// is still a temporary, and the directory is checked afterwards. A SIGKILL cannot be handled, so its leftover must be
/// recognisable by name and removed by the next run that writes the same output.
/// </summary>
[NonParallelizable]
public class SignalTests : CliFixture
{
    private const int SigKill = 9;

    /// <summary>Sends <paramref name="signal"/> (a number) with kill(1); returns its exit code.</summary>
    private static int Kill(int pid, int signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { $"-{signal}", pid.ToString(System.Globalization.CultureInfo.InvariantCulture) }, UseShellExecute = false })!;
        kill.WaitForExit();
        return kill.ExitCode;
    }

    private static string CliDll => Path.ChangeExtension(typeof(Program).Assembly.Location, ".dll");

    /// <summary>
    /// Skips when this process ignores <paramref name="signal"/>: a background job of a shell without job control starts
    /// with SIGINT ignored, the CLI process inherits that, and the signal would never reach its handler.
    /// </summary>
    private static void RequireDeliverable(int signal)
    {
        var line = File.Exists("/proc/self/status") ? File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal)) : null;
        if (line is not null && (ulong.Parse(line["SigIgn:".Length..].Trim(), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture) & (1UL << (signal - 1))) != 0)
        {
            Assert.Ignore($"signal {signal} is ignored by this test process (started in the background without job control), so its children cannot receive it");
        }
    }

    /// <summary>An untrained LeNet-5: per-sample convolution gradients take seconds for the slice, long enough to interrupt.</summary>
    private string SlowModel()
    {
        var path = P("lenet.safetensors");
        ModelFiles.Save(ModelFactory.Create("lenet5", seed: 1), path);
        return path;
    }

    private Process Start(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(CliDll);
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        psi.Environment["CI"] = "true";
        return Process.Start(psi)!;
    }

    /// <summary>Waits until a temporary of <paramref name="name"/> exists (the run is writing it); fails after a minute.</summary>
    private string WaitForTemporary(Process p, string name)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            var temp = Directory.GetFiles(Dir, $".{name}.woodfisher-{p.Id}-*.tmp").FirstOrDefault();
            if (temp is not null)
                return temp;
            if (p.HasExited)
                Assert.Fail($"the run ended ({p.ExitCode}) before it was interrupted: {p.StandardError.ReadToEnd()}");
            Thread.Sleep(20);
        }
        p.Kill();
        Assert.Fail($"no temporary of {name} appeared");
        return "";
    }

    private static (int Code, string Err) Finish(Process p)
    {
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        Assert.That(p.WaitForExit(60_000), Is.True, "the run ends after the signal");
        return (p.ExitCode, err.Result);
    }

    [TestCase(PosixSignal.SIGINT, 2, 130)]
    [TestCase(PosixSignal.SIGTERM, 15, 143)]
    public void Grads_Signalled_DeletesItsTemporaries_AndExitsWith128PlusTheSignal(PosixSignal signal, int number, int expected)
    {
        RequireDeliverable(number);
        var model = SlowModel();
        using var p = Start("grads", "--model", model, "--data", SliceDir, "--samples", "2000", "--out", P("g.npy"), "--layout", P("g.json"));
        WaitForTemporary(p, "g.npy");
        Assert.That(Kill(p.Id, number), Is.Zero, $"kill -{signal}");
        var (code, err) = Finish(p);
        Assert.That(code, Is.EqualTo(expected), err);
        Assert.That(err, Does.Contain($"interrupted by {signal}"));
        Assert.That(Directory.GetFileSystemEntries(Dir).Select(Path.GetFileName), Is.EqualTo(new[] { "lenet.safetensors" }), "no output and no temporary left");
    }

    // train writes its --log row by row into a temporary: interrupting it between epochs leaves neither the log nor the model.
    [Test]
    public void Train_InterruptedBetweenEpochs_LeavesNoLogAndNoModel()
    {
        RequireDeliverable(2);
        using var p = Start("train", "--arch", "mlp:784-300-100-10", "--data", SliceDir, "--epochs", "500", "--out", P("m.safetensors"), "--log", P("m.csv"));
        var temp = WaitForTemporary(p, "m.csv");
        var clock = Stopwatch.StartNew();
        while (new FileInfo(temp).Length < 60 && clock.Elapsed < TimeSpan.FromSeconds(60) && !p.HasExited)
            Thread.Sleep(20);
        Assert.That(Kill(p.Id, 2), Is.Zero);
        var (code, err) = Finish(p);
        Assert.That(code, Is.EqualTo(130), err);
        Assert.That(Directory.GetFileSystemEntries(Dir), Is.Empty);
    }

    // SIGKILL cannot be caught: the temporary stays, named for its target and the dead process, and the next run writing the
    // same output removes it. The gradients of ResNet-20's first convolution (a full backward pass per sample, 144 columns)
    // take seconds while the temporary exists, so the kill cannot arrive after the run has finished.
    [Test]
    public void Killed_LeavesARecognisableTemporary_ThatTheNextRunRemoves()
    {
        var model = P("resnet20.safetensors");
        ModelFiles.Save(ModelFactory.Create("resnet20:1x28x28", seed: 1), model);
        using (var p = Start("grads", "--model", model, "--data", SliceDir, "--samples", "2000", "--layers", "conv1.weight", "--out", P("g.npy")))
        {
            var temp = WaitForTemporary(p, "g.npy");
            Assert.That(p.HasExited, Is.False, "the run is still writing its temporary when it is killed");
            Assert.That(Kill(p.Id, SigKill), Is.Zero);
            p.WaitForExit();
            Assert.That(p.ExitCode, Is.EqualTo(128 + SigKill), "ended by the SIGKILL");
            Assert.That(File.Exists(temp), Is.True, "a killed process cannot clean up");
            Assert.That(Path.GetFileName(temp), Does.Match($@"^\.g\.npy\.woodfisher-{p.Id}-[0-9a-f]{{32}}\.tmp$"));
        }

        var (code, _, stderr) = Run("grads", "--model", model, "--data", SliceDir, "--samples", "4", "--layers", "conv1.weight", "--out", P("g.npy"));
        Assert.That(code, Is.Zero, stderr);
        Assert.That(Directory.GetFileSystemEntries(Dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "resnet20.safetensors", "g.npy" }), "the stale temporary is gone");
    }
}
