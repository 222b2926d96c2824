using System.Numerics;
using System.Numerics.Tensors;

namespace WoodFisher.Kernels.Cpu;

/// <summary>
/// Inverse blocks in managed memory: one c_i × c_i row-major array per block (no 2³¹-element limit overall). The
/// abstract face is what <see cref="CpuBackend"/> calls (including the column gather of
/// <see cref="JointObsUpdate"/>); <see cref="CpuBlockStorage{T}"/> runs each operation in its
/// storage type, so the backend never branches on the precision.
/// </summary>
internal abstract class CpuBlockStorage(BlockLayout layout, Precision precision) : IBlockStorage, IJointObsSource
{
    public BlockLayout Layout { get; } = layout;

    public Precision Precision { get; } = precision;

    public abstract void SetScaledIdentity(double value);

    public abstract void Write(ReadOnlySpan<double> blocks);

    public abstract void Read(Span<double> blocks);

    public abstract void ReadBlock(int block, Span<double> destination);

    /// <summary>The entries (Q, Q) of block <paramref name="block"/> for local indices Q (checked by the caller), |Q| × |Q| row-major.</summary>
    public abstract void ReadSubMatrix(int block, ReadOnlySpan<int> local, Span<double> destination);

    public abstract void Diagonal(Span<double> diagonal);

    public abstract void Multiply(double[] vectors, double[] result, int count);

    public abstract void RankOneUpdates<TSrc>(PinnedRows<TSrc> rows, int count, double normalizer)
        where TSrc : unmanaged, IFloatingPointIeee754<TSrc>;

    public abstract void RankKUpdate<TSrc>(PinnedRows<TSrc> rows, int count, double normalizer)
        where TSrc : unmanaged, IFloatingPointIeee754<TSrc>;

    public abstract void GatherColumns(JointObsPlan plan, int first, int last, double[] columns);

    public abstract void Dispose();
}

/// <summary>The blocks in float or double.</summary>
internal sealed class CpuBlockStorage<T> : CpuBlockStorage
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly BlockRecycler? _recycler;
    private readonly Lock _clearing = new();
    private T[][] _blocks;

    // Recycled arrays not yet cleared: the first reader clears them all; SetScaledIdentity, which writes every entry,
    // takes them as they are (one pass over the memory instead of two).
    private volatile bool _uncleared;

    public CpuBlockStorage(BlockLayout layout, Precision precision, BlockRecycler? recycler = null)
        : base(layout, precision)
    {
        _recycler = recycler;
        _blocks = new T[layout.Count][];
        for (var b = 0; b < layout.Count; b++)
        {
            var c = layout.Size(b);
            var reused = recycler?.Take<T>(c * c);
            _uncleared |= reused is not null;
            _blocks[b] = reused ?? new T[c * c];
        }

        ScaledIdentity = new T[layout.Count];
        Array.Fill(ScaledIdentity, T.NaN);
    }

    /// <summary>The blocks, zero until written (as fresh arrays are).</summary>
    public T[][] Blocks
    {
        get
        {
            if (_uncleared)
            {
                lock (_clearing)
                {
                    if (_uncleared)
                    {
                        BlockParallel.For(_blocks.Length, b => Array.Clear(_blocks[b]));
                        _uncleared = false;
                    }
                }
            }

            return _blocks;
        }
    }

    /// <summary>The blocks for a caller that overwrites every entry of every block before anything reads them.</summary>
    public T[][] BlocksToOverwrite()
    {
        _uncleared = false;
        return _blocks;
    }

    /// <summary>
    /// Per block: σ while the block is exactly σI (as <see cref="SetScaledIdentity"/> leaves it), NaN once anything else
    /// has written it. The rank-k update uses it to skip U = GₖF⁻¹ = σGₖ on a fresh block.
    /// </summary>
    public T[] ScaledIdentity { get; }

    /// <summary>Marks every block as no longer a known multiple of the identity.</summary>
    public void ForgetIdentity() => Array.Fill(ScaledIdentity, T.NaN);

    public override void SetScaledIdentity(double value) => BlockOps<T>.SetScaledIdentity(this, value);

    public override void Write(ReadOnlySpan<double> blocks) => BlockOps<T>.Write(this, blocks);

    public override void Read(Span<double> blocks) => BlockOps<T>.Read(this, blocks);

    public override void ReadBlock(int block, Span<double> destination) => TensorPrimitives.ConvertTruncating<T, double>(Blocks[block], destination);

    public override void ReadSubMatrix(int block, ReadOnlySpan<int> local, Span<double> destination)
    {
        var (f, c, k) = (Blocks[block], Layout.Size(block), local.Length);
        for (var i = 0; i < k; i++)
        {
            var row = f.AsSpan(local[i] * c, c);
            for (var j = 0; j < k; j++)
            {
                destination[(i * k) + j] = double.CreateTruncating(row[local[j]]);
            }
        }
    }

    public override void Diagonal(Span<double> diagonal) => BlockOps<T>.Diagonal(this, diagonal);

    public override void Multiply(double[] vectors, double[] result, int count) => BlockOps<T>.Multiply(this, vectors, result, count);

    public override void RankOneUpdates<TSrc>(PinnedRows<TSrc> rows, int count, double normalizer) => RankOneUpdate<T>.Apply(this, rows, count, normalizer);

    public override void RankKUpdate<TSrc>(PinnedRows<TSrc> rows, int count, double normalizer) => Cpu.RankKUpdate<T>.Apply(this, rows, count, normalizer);

    public override void GatherColumns(JointObsPlan plan, int first, int last, double[] columns) => BlockOps<T>.GatherColumns(this, plan, first, last, columns);

    public override void Dispose()
    {
        _recycler?.Return(_blocks);
        _blocks = [];
    }
}
