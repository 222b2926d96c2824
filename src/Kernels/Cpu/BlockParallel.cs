using System.Runtime.ExceptionServices;

namespace WoodFisher.Kernels.Cpu;

/// <summary>Parallel loop over independent blocks (or tiles) that rethrows the first failure unwrapped.</summary>
internal static class BlockParallel
{
    // At most one worker per core: without a bound, loops whose bodies block (nested loops, long blocks) make the thread
    // pool inject workers, and on 2 cores 6–9 threads were seen runnable at once during a rank-k build.
    private static readonly ParallelOptions PerCore = new() { MaxDegreeOfParallelism = Environment.ProcessorCount };

    /// <summary>Runs <paramref name="body"/> for every block, in parallel when there are several, and rethrows the first failure unwrapped.</summary>
    internal static void For(int count, Action<int> body)
    {
        if (count == 1)
        {
            body(0);
            return;
        }

        try
        {
            Parallel.For(0, count, PerCore, body);
        }
        catch (AggregateException e)
        {
            ExceptionDispatchInfo.Capture(e.Flatten().InnerExceptions[0]).Throw();
            throw;
        }
    }
}
