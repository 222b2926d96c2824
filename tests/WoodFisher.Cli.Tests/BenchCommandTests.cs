using System.Text.Json;
using WoodFisher.Cli.Infrastructure;

namespace WoodFisher.Cli.Tests;

/// <summary><c>woodfisher bench --quick</c>: a valid table and JSON (no timing assertions beyond "positive").</summary>
[NonParallelizable]
public class BenchCommandTests : CliFixture
{
    [Test]
    public void Bench_QuickJson_HasPositiveTimingsForEveryStrategy()
    {
        var json = Path.Combine(Dir, "bench.json");
        var (code, stdout, stderr) = CliFixture.Run("bench", "--quick", "--backend", "cpu", "--report", json);
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Does.Contain("backend\tstrategy\tc\tm\td\tseconds\tGFLOP/s\t% peak\tvs dense"));

        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.That(doc.RootElement.GetProperty("machine").GetProperty("peak_gflops_f32").GetDouble(), Is.GreaterThan(0));
        var results = doc.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.That(results.Select(r => r.GetProperty("strategy").GetString()).Distinct(), Is.EquivalentTo(new[] { "dense", "rank1", "rankk", "auto" }));
        foreach (var r in results)
        {
            Assert.That(r.GetProperty("seconds").GetDouble(), Is.GreaterThan(0));
            Assert.That(r.GetProperty("gflops").GetDouble(), Is.GreaterThan(0));
            Assert.That(r.GetProperty("speedup_vs_dense").GetDouble(), Is.GreaterThan(0));
        }
    }

    [Test]
    public void Bench_QuickWithIlgpu_TimesTheCpuAcceleratorOnSmallCellsOnly()
    {
        var (code, stdout, stderr) = CliFixture.Run("bench", "--quick", "--grid", "16:32:64,128:256:512", "--backend", "ilgpu");
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Does.Contain("ilgpu"));
        if (!WoodFisher.Kernels.IlgpuBackendFactory.HasDevice)
            Assert.That(stdout, Does.Contain("ilgpu skipped at c=128"));
    }

    [Test]
    public void Bench_CalibrateQuick_PrintsACostModel()
    {
        var (code, stdout, stderr) = CliFixture.Run("bench", "--calibrate", "--quick", "--repeats", "1");
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Does.Contain("new StrategyCostModel(").And.Contain("rankK:").And.Contain("c = 64:"));
    }

    [TestCase("--grid", "128:256")]
    [TestCase("--grid", "a:b:c")]
    [TestCase("--backend", "tpu")]
    public void Bench_BadOption_FailsWithOneLine(string option, string value)
    {
        var (code, _, stderr) = CliFixture.Run("bench", "--quick", option, value);
        Assert.That(code, Is.Not.Zero);
        Assert.That(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Exactly(1).StartsWith("woodfisher:"));
    }
}
