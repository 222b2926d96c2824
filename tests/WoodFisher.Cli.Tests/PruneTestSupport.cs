using System.Diagnostics;
using WoodFisher.Cli.Infrastructure;
using WoodFisher.Models;
using WoodFisher.Models.Data;
using WoodFisher.Models.Training;

namespace WoodFisher.Cli.Tests;

/// <summary>Shared fixtures of the prune, gradual and demo tests: a temp directory, the embedded data slice, tiny models.</summary>
internal static class PruneTestSupport
{
    public static string NewTempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "wf-prune-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>The embedded Fashion-MNIST slice directory (2,000 train / 1,000 test), so tests never read the full set.</summary>
    public static string SliceDir => Path.GetDirectoryName(InspectCommandTests.FindRepoFile("data/fashion-mnist-slice/train-labels-idx1-ubyte.gz"))!;

    /// <summary>A small MLP trained for one epoch on 500 slice samples (seconds), saved as safetensors.</summary>
    public static string TrainedMlp(string dir, string spec = "mlp:784-16-10")
    {
        var train = DataSets.LoadEmbedded("train").Take(500);
        var model = ModelFactory.Create(spec, seed: 1);
        Trainer.Train(model, train.Images, train.Labels, train.Count, new TrainerOptions { Epochs = 2, BatchSize = 50, Seed = 1 });
        var path = Path.Combine(dir, "dense.safetensors");
        ModelFiles.Save(model, path);
        return path;
    }

    /// <summary>Runs a Python snippet with /usr/bin/python3; ignores the test when it, or a module the snippet imports (NumPy, PyTorch), is missing.</summary>
    public static string Python(string script)
    {
        const string python = "/usr/bin/python3";
        if (!File.Exists(python))
            Assert.Ignore("/usr/bin/python3 is not installed");
        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEnd();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0 && System.Text.RegularExpressions.Regex.Match(stderr, "No module named '([^']+)'") is { Success: true } missing)
            Assert.Ignore($"Python module {missing.Groups[1].Value} is not installed for /usr/bin/python3");
        Assert.That(p.ExitCode, Is.Zero, stderr);
        return stdout.Trim();
    }

    /// <summary>The <c>key=value</c> fields of one plain output line (values may be "quoted").</summary>
    public static Dictionary<string, string> Fields(string line)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(line, "([a-z_]+)=(\"(?:[^\"\\\\]|\\\\.)*\"|\\S+)"))
            fields[m.Groups[1].Value] = m.Groups[2].Value.StartsWith('"') ? m.Groups[2].Value[1..^1].Replace("\\\"", "\"", StringComparison.Ordinal) : m.Groups[2].Value;
        return fields;
    }

    /// <summary>The fields of every stdout line that has <paramref name="key"/>.</summary>
    public static List<Dictionary<string, string>> Records(string stdout, string key) =>
        [.. Lines(stdout).Select(Fields).Where(f => f.ContainsKey(key))];

    public static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
}
