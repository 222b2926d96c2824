using WoodFisher.Cli.Infrastructure;

namespace WoodFisher.Cli.Tests;

[NonParallelizable]
public class CliProgressTests
{
    [Test]
    public void Progress_NonInteractive_PrintsStartDecilesAndDone_OnStderr()
    {
        var oldErr = Console.Error;
        var err = new StringWriter();
        Console.SetError(err);
        CliConsole.InteractiveOverride = false;
        try
        {
            using (var p = CliProgress.Start("phase", 100))
            {
                for (int i = 0; i < 100; i++)
                    p.Advance();
                Assert.That(p.Done, Is.EqualTo(100));
            }
        }
        finally
        {
            Console.SetError(oldErr);
            CliConsole.InteractiveOverride = null;
        }
        var lines = err.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines[0], Is.EqualTo("phase: started (100 steps)"));
        Assert.That(lines.Count(l => l.Contains('%')), Is.EqualTo(9), "10%..90%");
        Assert.That(lines[^1], Does.StartWith("phase: done (100 steps)"));
    }

    // The trainer reports each mini-batch and then the epoch's end: one step per mini-batch, the callback at epoch ends only.
    [Test]
    public void Batches_AdvanceOneStepPerMiniBatch_AndReportOnlyEpochEnds()
    {
        var oldErr = Console.Error;
        Console.SetError(new StringWriter());
        CliConsole.InteractiveOverride = false;
        var ends = new List<int>();
        try
        {
            using var p = CliProgress.Start("epochs", 6);
            var batches = p.Batches(e => ends.Add(e.Epoch));
            for (var epoch = 0; epoch < 2; epoch++)
            {
                for (var b = 1; b <= 3; b++)
                    batches.Report(new Models.Training.TrainingProgress(epoch, b, 3, 0.5, 0.1, false));
                batches.Report(new Models.Training.TrainingProgress(epoch, 3, 3, 0.5, 0.1, true));
            }
            Assert.That(p.Done, Is.EqualTo(6));
            Assert.That(ends, Is.EqualTo(new[] { 0, 1 }));
            p.Batches().Report(new Models.Training.TrainingProgress(2, 3, 3, 0.5, 0.1, true));
            Assert.That(p.Done, Is.EqualTo(6), "an epoch end is not a step, with or without a callback");
        }
        finally
        {
            Console.SetError(oldErr);
            CliConsole.InteractiveOverride = null;
        }
    }

    [Test]
    public void CliFiles_WriteText_IsAtomicAndCreatesDirectories()
    {
        var dir = Path.Combine(Path.GetTempPath(), "wf-cli-" + Guid.NewGuid().ToString("N"));
        try
        {
            var path = Path.Combine(dir, "sub", "r.csv");
            CliFiles.WriteText(path, "a,b\n");
            Assert.That(File.ReadAllText(path), Is.EqualTo("a,b\n"));
            Assert.That(Directory.GetFiles(Path.GetDirectoryName(path)!), Has.Length.EqualTo(1));
        }
        finally
        {
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
    }
}
