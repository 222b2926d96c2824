using System.Diagnostics;

namespace WoodFisher.Models.Tests.IO;

/// <summary>A per-test temporary directory, and a runner for Debian's /usr/bin/python3 with NumPy.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "wf-io-" + Guid.NewGuid().ToString("N"));

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}

internal static class Python
{
    public const string Interpreter = "/usr/bin/python3";

    private static readonly Lazy<string?> Unavailable = new(() =>
    {
        if (!System.IO.File.Exists(Interpreter))
            return $"{Interpreter} is not installed";
        var (code, _, err) = RunRaw("import numpy");
        return code == 0 ? null : $"NumPy is not importable by {Interpreter}: {err.Trim()}";
    });

    /// <summary>Runs a script with NumPy imported as np; ignores the test when NumPy is missing; fails on a non-zero exit.</summary>
    public static string Run(string script, params string[] args)
    {
        if (Unavailable.Value is { } why)
            Assert.Ignore(why);
        var (code, stdout, stderr) = RunRaw("import numpy as np, sys, json\n" + script, args);
        Assert.That(code, Is.Zero, $"python failed: {stderr}");
        return stdout.Trim();
    }

    private static (int Code, string Out, string Err) RunRaw(string script, params string[] args)
    {
        var psi = new ProcessStartInfo(Interpreter)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
