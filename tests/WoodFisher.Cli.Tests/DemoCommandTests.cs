using WoodFisher.Cli.Infrastructure;
using static WoodFisher.Cli.Tests.PruneTestSupport;

namespace WoodFisher.Cli.Tests;

/// <summary><c>woodfisher demo --quick</c>: trains, prunes with four methods and prints the table.</summary>
[NonParallelizable]
public class DemoCommandTests : CliFixture
{
    [Test]
    public void DemoQuick_PrintsOneRowPerMethod_AndMarkdown()
    {
        var md = Path.Combine(Dir, "demo.md");
        var (code, stdout, stderr) = CliFixture.Run("demo", "--quick", "--data", SliceDir, "--report", md);
        Assert.That(code, Is.Zero, stderr);
        var header = Records(stdout, "dense_accuracy").Single();
        Assert.That(header["dense_accuracy"], Does.Match(@"^\d+\.\d\d%$"), "one unit, percent, in the header as in the rows");
        var rows = Records(stdout, "method");
        Assert.That(rows.Select(r => (r["sparsity"], r["method"], r["update"])), Is.EqualTo(new[]
        {
            ("90.00%", "magnitude", "none"), ("90.00%", "woodfisher", "independent"), ("90.00%", "woodfisher", "joint"), ("90.00%", "woodfisher", "joint, K=4 cubic"),
        }));
        foreach (var r in rows)
            Assert.That(double.Parse(r["accuracy"].TrimEnd('%'), System.Globalization.CultureInfo.InvariantCulture), Is.InRange(0.0, 100.0));
        var markdown = File.ReadAllText(md);
        Assert.That(markdown, Does.Contain("| 90.00% | woodfisher | joint |"));
        Assert.That(markdown, Does.Contain("dense test accuracy " + header["dense_accuracy"]));
    }

    [Test]
    public void DemoQuick_AllMethods_ReportExactHessianAsFailedNotCrash()
    {
        var (code, stdout, stderr) = CliFixture.Run("demo", "--quick", "--data", SliceDir, "--method", "all,exact", "--sparsity", "0.5");
        Assert.That(code, Is.Zero, stderr);
        var rows = Records(stdout, "method");
        Assert.That(rows, Has.Count.EqualTo(9));
        Assert.That(rows.Select(r => r["method"]), Is.EqualTo(new[] { "magnitude", "magnitude", "diagfisher", "kfac", "woodfisher", "woodfisher", "woodtaylor", "woodfisher", "exact" }));
        Assert.That(rows[1]["update"], Is.EqualTo("none, layerwise"), "layer-wise magnitude is magnitude with a selection");
    }

    [Test]
    public void DemoQuick_NofM_ReportsThePatternsOwnSparsity_AndRefusesAnother()
    {
        var (code, stdout, stderr) = CliFixture.Run("demo", "--quick", "--data", SliceDir, "--pattern", "2:4", "--method", "magnitude,woodfisher");
        Assert.That(code, Is.Zero, stderr);
        Assert.That(Records(stdout, "method").Select(r => r["sparsity"]), Is.EqualTo(new[] { "50.00%", "50.00%" }));
        (code, _, stderr) = CliFixture.Run("demo", "--quick", "--data", SliceDir, "--pattern", "2:4", "--sparsity", "0.9");
        Assert.That((code, stderr), Is.EqualTo((2, "woodfisher: --sparsity does not apply to --pattern 2:4: N:M prunes 2 of every 4 inputs, sparsity 0.5\n")));
    }

    [Test]
    public void Demo_BadSparsity_FailsWithOneLine()
    {
        var (code, _, stderr) = CliFixture.Run("demo", "--quick", "--data", SliceDir, "--sparsity", "0.9,1.2");
        Assert.That(code, Is.Not.Zero);
        Assert.That(Lines(stderr), Has.Length.EqualTo(1));
    }
}
