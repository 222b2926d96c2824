namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// A job cut into whole parts, one per core, each run start to end by the thread that takes it (an inference batch split
/// by samples: every core runs its own samples through all the layers). Inside a part the products, transposes and
/// convolutions are not split again (<see cref="MaySplit"/>), so a core reads only what it wrote itself and the weights,
/// where a split of each product would move every layer's activations between the cores' caches and join them once per
/// layer.
/// </summary>
public static class CoreSplit
{
    [ThreadStatic]
    private static bool t_inPart;

    /// <summary>False on a thread running a part of <see cref="Run"/>: work there stays on its core.</summary>
    public static bool MaySplit => !t_inPart;

    /// <summary>Cores available to <see cref="Run"/>.</summary>
    public static int Cores => Environment.ProcessorCount;

    /// <summary>
    /// Fewest columns of B at which the batched product of <paramref name="weights"/> runs whole register tiles: two
    /// registers for dense weights (eight rows share each load of B, so a narrow tile still keeps the FMAs busy), four for
    /// the sparse formats, whose loads of B serve one or two rows and need the wide tile to be amortised.
    /// </summary>
    public static int FullWidth(IWeightMatrix weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        return (weights.Format == WeightFormat.Dense ? 2 : 4) * Gemm.Width<float>();
    }

    /// <summary>Whether <paramref name="multiplyAdds"/> of work are worth waking the other cores for (as a product's own split is).</summary>
    public static bool Worth(long multiplyAdds) => multiplyAdds >= 2 * SparseParallel.Threshold;

    /// <summary>
    /// Runs <paramref name="part"/>(0 … parts − 1), the calling thread and up to <see cref="Cores"/> − 1 helpers taking
    /// parts in turn (a helper that starts late takes what is left, or nothing); returns when all are done and rethrows
    /// the first failure.
    /// </summary>
    public static void Run(int parts, Action<int> part)
    {
        ArgumentNullException.ThrowIfNull(part);
        ArgumentOutOfRangeException.ThrowIfNegative(parts);
        if (parts == 0)
        {
            return;
        }

        var job = new SparseParallel.Job(parts, p =>
        {
            var outer = t_inPart;
            t_inPart = true;
            try
            {
                part(p);
            }
            finally
            {
                t_inPart = outer;
            }
        });
        job.Run(MaySplit ? Math.Min(parts, Cores) : 1);
    }
}
