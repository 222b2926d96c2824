namespace WoodFisher.Models.Tests;

/// <summary>
/// <see cref="BackgroundWork"/>: the work runs on a thread of its own at nice 10 on Linux, or at the caller's own when that
/// is higher (read back through getpriority, the scheduler's own record), leaves the caller's priority alone, and returns
/// its result or its exception unchanged.
/// </summary>
public class BackgroundWorkTests
{
    [Test]
    public void Start_RunsOnItsOwnThread_AtNice10_AndLeavesTheCallerAlone()
    {
        var before = BackgroundWork.CurrentNice();
        var (thread, pool, nice) = BackgroundWork.Start(() =>
            (Environment.CurrentManagedThreadId, Thread.CurrentThread.IsThreadPoolThread, BackgroundWork.CurrentNice())).GetAwaiter().GetResult();

        Assert.Multiple(() =>
        {
            Assert.That(thread, Is.Not.EqualTo(Environment.CurrentManagedThreadId));
            Assert.That(pool, Is.False, "a pool thread would keep the lowered priority for later work");
            Assert.That(BackgroundWork.CurrentNice(), Is.EqualTo(before));
        });
        if (OperatingSystem.IsLinux())
        {
            // 10, or the caller's own when the tests already run at a lower priority (nice is never taken back down).
            Assert.That(nice, Is.EqualTo(Math.Max(10, before ?? 0)));
        }
        else
        {
            Assert.That(nice, Is.Null);
        }
    }

    [Test]
    public void Start_FaultsWithTheWorksOwnException()
    {
        var task = BackgroundWork.Start(() => throw new InvalidDataException("damaged"));
        var e = Assert.Throws<InvalidDataException>(() => task.GetAwaiter().GetResult());
        Assert.That(e!.Message, Is.EqualTo("damaged"));
    }

    [Test]
    public void Start_WithoutResult_Completes()
    {
        var ran = 0;
        BackgroundWork.Start(() => { ran = 1; }).GetAwaiter().GetResult();
        Assert.That(ran, Is.EqualTo(1));
    }
}
