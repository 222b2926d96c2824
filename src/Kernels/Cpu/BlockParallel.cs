using System.Runtime.ExceptionServices;

namespace WoodFisher.Kernels.Cpu;

/// <summary>Parallel loop over independent blocks (or tiles) that rethrows the first failure unwrapped.</summary>
internal static class BlockParallel
{
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
            Parallel.For(0, count, body);
        }
        catch (AggregateException e)
        {
            ExceptionDispatchInfo.Capture(e.Flatten().InnerExceptions[0]).Throw();
            throw;
        }
    }
}
