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
        var (code, stdout, stderr) = CliFixture.Run("demo", "--quick", "--data", SliceDir, "--markdown", md);
        Assert.That(code, Is.Zero, stderr);
        var lines = Lines(stdout);
        Assert.That(lines, Does.Contain("sparsity\tmethod\tupdate\taccuracy\tloss\tseconds\tgradients\tinverse\tselection\tupdate_s"));
        var rows = lines.Where(l => l.StartsWith("0.9\t", StringComparison.Ordinal)).Select(l => l.Split('\t')).ToList();
        Assert.That(rows.Select(r => (r[1], r[2])), Is.EqualTo(new[]
        {
            ("magnitude", "none"), ("woodfisher", "independent"), ("woodfisher", "joint"), ("woodfisher", "joint, K=4 cubic"),
        }));
        foreach (var r in rows)
            Assert.That(double.Parse(r[3], System.Globalization.CultureInfo.InvariantCulture), Is.InRange(0.0, 1.0));
        Assert.That(File.ReadAllText(md), Does.Contain("| 90% | woodfisher | joint |"));
    }

    [Test]
    public void DemoQuick_AllMethods_ReportExactHessianAsFailedNotCrash()
    {
        var (code, stdout, stderr) = CliFixture.Run("demo", "--quick", "--data", SliceDir, "--methods", "all,exact", "--sparsity", "0.5");
        Assert.That(code, Is.Zero, stderr);
        var rows = Lines(stdout).Where(l => l.StartsWith("0.5\t", StringComparison.Ordinal)).ToList();
        Assert.That(rows, Has.Count.EqualTo(9));
    }

    [Test]
    public void Demo_BadSparsity_FailsWithOneLine()
    {
        var (code, _, stderr) = CliFixture.Run("demo", "--quick", "--data", SliceDir, "--sparsity", "0.9,1.2");
        Assert.That(code, Is.Not.Zero);
        Assert.That(Lines(stderr), Has.Length.EqualTo(1));
    }
}
