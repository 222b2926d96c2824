using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels;

/// <summary>
/// The SIMD CPU implementation of <see cref="ICurvatureBackend"/>: blocks in managed arrays (float32 or float64),
/// Vector512 or Vector256 FMA kernels chosen at run time, parallel over blocks (and inside a block's matrix products
/// when there are fewer blocks than cores).
/// </summary>
public sealed class CpuBackend : CurvatureBackend
{
    /// <summary>Largest rank-k panel (gradients folded in per matrix–matrix step).</summary>
    internal const int MaxPanel = 96;

    private BlockRecycler? _recycler;

    /// <inheritdoc />
    public override string Name => "cpu-" + Gemm.PathName;

    /// <summary>
    /// When true, the block arrays of the last storage disposed are kept and reused (cleared) by the next
    /// <see cref="Allocate"/> with blocks of the same sizes, until this is set false or the backend is disposed: for a
    /// caller that builds, drops and rebuilds groups of blocks one after another (the two-pass build), at the cost of one
    /// group's arrays held between groups.
    /// </summary>
    public bool RecycleBlocks
    {
        get => _recycler is not null;
        set
        {
            _recycler?.Clear();
            _recycler = value ? new BlockRecycler() : null;
        }
    }

    /// <inheritdoc />
    public override IBlockStorage Allocate(BlockLayout layout, Precision precision)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return precision switch
        {
            Precision.Float32 => new CpuBlockStorage<float>(layout, precision, _recycler),
            Precision.Float64 => new CpuBlockStorage<double>(layout, precision, _recycler),
            _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "Unknown precision."),
        };
    }

    /// <inheritdoc />
    public override void Dispose() => RecycleBlocks = false;

    /// <inheritdoc />
    protected override void CheckOwnership(IBlockStorage storage)
    {
        if (storage is not CpuBlockStorage)
        {
            throw new ArgumentException($"Storage of type {storage.GetType().Name} was not allocated by the CPU backend.", nameof(storage));
        }
    }

    /// <inheritdoc />
    protected override void SetScaledIdentityCore(IBlockStorage storage, double value) => Blocks(storage).SetScaledIdentity(value);

    /// <inheritdoc />
    protected override void WriteCore(IBlockStorage storage, ReadOnlySpan<double> blocks) => Blocks(storage).Write(blocks);

    /// <inheritdoc />
    protected override void ReadCore(IBlockStorage storage, Span<double> blocks) => Blocks(storage).Read(blocks);

    /// <inheritdoc />
    protected override void ReadBlockCore(IBlockStorage storage, int block, Span<double> destination) => Blocks(storage).ReadBlock(block, destination);

    /// <inheritdoc />
    protected override void ReadSubMatrixCore(IBlockStorage storage, int block, ReadOnlySpan<int> local, Span<double> destination) => Blocks(storage).ReadSubMatrix(block, local, destination);

    /// <inheritdoc />
    protected override void ReadSubMatricesCore(IBlockStorage storage, int block, IReadOnlyList<int[]> locals, Action<int, double[]> use)
    {
        var blocks = Blocks(storage);
        for (var i = 0; i < locals.Count; i++)
        {
            var sub = new double[locals[i].Length * locals[i].Length];
            blocks.ReadSubMatrix(block, locals[i], sub);
            use(i, sub);
        }
    }

    /// <inheritdoc />
    protected override void DiagonalCore(IBlockStorage storage, Span<double> diagonal) => Blocks(storage).Diagonal(diagonal);

    /// <inheritdoc />
    protected override void MultiplyCore(IBlockStorage storage, ReadOnlySpan<double> vectors, Span<double> result, int count)
    {
        var r = new double[result.Length];
        Blocks(storage).Multiply(vectors.ToArray(), r, count);
        r.CopyTo(result);
    }

    /// <inheritdoc />
    protected override unsafe void UpdateCore<TSrc>(IBlockStorage storage, ReadOnlySpan<TSrc> gradients, int rows, double normalizer, bool rankK)
    {
        // Spans cannot enter the parallel block lambdas, so the rows stay pinned for the call and go in by address
        // (float32 rows are read as they are: no widened copy of G).
        fixed (TSrc* p = gradients)
        {
            var g = new PinnedRows<TSrc>(p, gradients.Length);
            if (rankK)
            {
                Blocks(storage).RankKUpdate(g, rows, normalizer);
            }
            else
            {
                Blocks(storage).RankOneUpdates(g, rows, normalizer);
            }
        }
    }

    /// <inheritdoc />
    protected override IJointObsSource ObsSource(IBlockStorage storage) => Blocks(storage);

    private static CpuBlockStorage Blocks(IBlockStorage storage) => (CpuBlockStorage)storage;
}
