using WoodFisher.Fuzz;
using WoodFisher.Kernels;

namespace WoodFisher.Models.Tests.Hostile;

/// <summary>
/// Replays the fuzz corpus (seeds plus the inputs AFL++ kept for new coverage) and every crasher ever found through the
/// same targets the fuzzer runs: each input must be read or refused with a promised exception, under the fuzz budget.
/// </summary>
public class FuzzReplayTests
{
    private static IEnumerable<TestCaseData> Inputs()
    {
        var root = Path.Combine(TestContext.CurrentContext.TestDirectory, "fuzz");
        foreach (var target in FuzzTargets.All.Keys)
        {
            foreach (var kind in new[] { "corpus", "crashers" })
            {
                var dir = Path.Combine(root, kind, target);
                if (Directory.Exists(dir))
                    yield return new TestCaseData(target, kind).SetName($"Fuzz_{target}_{kind}_IsReadOrRefusedAsPromised");
            }
        }
    }

    [TestCaseSource(nameof(Inputs))]
    public void Replay(string target, string kind)
    {
        var files = Directory.GetFiles(Path.Combine(TestContext.CurrentContext.TestDirectory, "fuzz", kind, target));
        using var budget = MemoryBudget.Override(FuzzTargets.Budget);
        Assert.Multiple(() =>
        {
            foreach (var file in files)
                Assert.DoesNotThrow(() => FuzzTargets.All[target](File.ReadAllBytes(file)), Path.GetFileName(file));
        });
    }

    [Test]
    public void EveryTarget_HasASeedCorpus() =>
        Assert.That(FuzzTargets.All.Keys.Where(t => !Directory.Exists(Path.Combine(TestContext.CurrentContext.TestDirectory, "fuzz", "corpus", t))), Is.Empty);
}
