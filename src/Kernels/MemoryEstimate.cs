using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels;

/// <summary>
/// Bytes a WoodFisher build needs, checked against <see cref="MemoryBudget"/> before anything large is allocated: the
/// blocks (Σc_i² × element size), the float64 Gram matrices of the Dense strategy (Σc_i² × 8) or the float32 rows it keeps, the float64 row panel
/// the builder gathers rows into, and per-thread workspace of the updates.
/// </summary>
internal static class MemoryEstimate
{
    public static long Bytes(BlockLayout layout, Precision precision, WoodburyStrategy strategy, int panelRows, long? rows = null)
    {
        long elem = precision == Precision.Float32 ? 4 : 8;
        var bytes = MemoryBudget.Product(layout.SquareLength, elem);
        if (strategy == WoodburyStrategy.Dense)
        {
            bytes = MemoryBudget.Sum(bytes, DenseStrategy.Bytes(layout, precision, rows));
        }

        long c = layout.BlockSize;
        long k = CpuBackend.MaxPanel;
        var perThread = (((3 * c * k) + (2 * k * k)) * elem) + (256L * 2048 * elem) + (c * c * 8 * 2);
        var panel = MemoryBudget.Product((long)panelRows + 2, MemoryBudget.Product(layout.Dimension, 8));
        return MemoryBudget.Sum(MemoryBudget.Sum(bytes, panel), MemoryBudget.Product(Environment.ProcessorCount, perThread));
    }

    public static void Require(long bytes) =>
        MemoryBudget.Require(bytes, "The WoodFisher inverse",
            "Use a smaller block size c, Precision.Float32, fewer coordinates, or pass expectedRows so rows need not be buffered.");
}
