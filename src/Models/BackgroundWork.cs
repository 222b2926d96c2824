using System.Runtime.InteropServices;

namespace WoodFisher.Models;

/// <summary>
/// Work a job starts alongside its own and waits for only at the end (checking the rest of a data file, evaluating the
/// dense model): on a thread of its own at a low scheduling priority, so that it mostly takes the cores the job leaves
/// idle instead of slowing the job's parallel loops. On Linux, where .NET does not map <see cref="Thread.Priority"/> to
/// the scheduler, the thread's nice value is raised to 10 unless it is already higher (no privilege needed, and none
/// could lower it again): it then gets about a tenth of a core that a normal thread wants, not the 1.5% of nice 19, so
/// that on a machine busy with other work it still ends in reasonable time once the job waits for it. Where that is not
/// possible it runs at normal priority.
/// </summary>
public static partial class BackgroundWork
{
    private const int BackgroundNice = 10;

    /// <summary>Runs <paramref name="work"/> on a new thread at background priority; the task faults with its exception.</summary>
    public static Task<T> Start<T>(Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        return Task.Factory.StartNew(() =>
        {
            LowerCurrentThread();
            return work();
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>As <see cref="Start{T}(Func{T})"/> for work without a result.</summary>
    public static Task Start(Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        return Start(() =>
        {
            work();
            return true;
        });
    }

    /// <summary>
    /// The calling thread's nice value on Linux (at least 10 after <see cref="Start{T}"/> lowered it), null elsewhere or
    /// when it cannot be read.
    /// </summary>
    public static int? CurrentNice()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            Marshal.SetLastPInvokeError(0);
            var nice = GetPriority(PrioProcess, GetThreadId());
            return nice == -1 && Marshal.GetLastPInvokeError() != 0 ? null : nice;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Lowers the calling thread, which must be one that ends with its work (never a pool thread, which would keep it).</summary>
    internal static void LowerCurrentThread()
    {
        Thread.CurrentThread.Priority = ThreadPriority.BelowNormal;
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        try
        {
            // Never below the nice value the thread already has (a process run under nice 15 stays there).
            var tid = GetThreadId();
            Marshal.SetLastPInvokeError(0);
            var nice = GetPriority(PrioProcess, tid);
            if ((nice != -1 || Marshal.GetLastPInvokeError() == 0) && nice < BackgroundNice)
            {
                _ = SetPriority(PrioProcess, tid, BackgroundNice);
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // An unusual libc: the work runs at normal priority, as it would elsewhere.
        }
    }

    // PRIO_PROCESS with a thread id sets that thread's nice value on Linux (each thread is scheduled on its own).
    private const int PrioProcess = 0;

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetThreadId();

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriority(int which, int who, int priority);

    [LibraryImport("libc", EntryPoint = "getpriority", SetLastError = true)]
    private static partial int GetPriority(int which, int who);
}
