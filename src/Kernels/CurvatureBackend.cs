using System.Numerics;

namespace WoodFisher.Kernels;

/// <summary>
/// The part of every <see cref="ICurvatureBackend"/> that does not depend on where the blocks live: argument checks
/// (lengths, block indices, the normalizer, storage ownership), the float32/float64 gradient overloads, and the joint
/// OBS update, which is <see cref="JointObsUpdate"/> on the backend's column gather. A backend supplies the storage
/// and the kernels (the <c>…Core</c> methods), which see only checked arguments.
/// </summary>
public abstract class CurvatureBackend : ICurvatureBackend
{
    /// <inheritdoc />
    public abstract string Name { get; }

    /// <inheritdoc />
    public abstract IBlockStorage Allocate(BlockLayout layout, Precision precision);

    /// <inheritdoc />
    public void SetScaledIdentity(IBlockStorage storage, double value)
    {
        Check(storage);
        if (!double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "The identity scale must be finite.");
        }

        SetScaledIdentityCore(storage, value);
    }

    /// <inheritdoc />
    public void Write(IBlockStorage storage, ReadOnlySpan<double> blocks)
    {
        RequireLength(blocks.Length, Check(storage).SquareLength, nameof(blocks));
        WriteCore(storage, blocks);
    }

    /// <inheritdoc />
    public void Read(IBlockStorage storage, Span<double> blocks)
    {
        RequireLength(blocks.Length, Check(storage).SquareLength, nameof(blocks));
        ReadCore(storage, blocks);
    }

    /// <inheritdoc />
    public void ReadBlock(IBlockStorage storage, int block, Span<double> destination)
    {
        var layout = Check(storage);
        ArgumentOutOfRangeException.ThrowIfNegative(block);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(block, layout.Count);
        var c = (long)layout.Size(block);
        RequireLength(destination.Length, c * c, nameof(destination));
        ReadBlockCore(storage, block, destination);
    }

    /// <inheritdoc />
    public void ReadSubMatrix(IBlockStorage storage, int block, ReadOnlySpan<int> local, Span<double> destination)
    {
        CheckLocal(storage, block, local, nameof(local));
        RequireLength(destination.Length, (long)local.Length * local.Length, nameof(destination));
        ReadSubMatrixCore(storage, block, local, destination);
    }

    /// <inheritdoc />
    public void ReadSubMatrices(IBlockStorage storage, int block, IReadOnlyList<int[]> locals, Action<int, double[]> use)
    {
        ArgumentNullException.ThrowIfNull(locals);
        ArgumentNullException.ThrowIfNull(use);
        CheckLocal(storage, block, [], nameof(locals));
        foreach (var part in locals)
        {
            ArgumentNullException.ThrowIfNull(part, nameof(locals));
            CheckLocal(storage, block, part, nameof(locals));
        }

        ReadSubMatricesCore(storage, block, locals, use);
    }

    /// <inheritdoc />
    public void RankOneUpdates(IBlockStorage storage, ReadOnlySpan<double> gradients, int rows, double normalizer)
        => Update(storage, gradients, rows, normalizer, rankK: false);

    /// <inheritdoc />
    public void RankOneUpdates(IBlockStorage storage, ReadOnlySpan<float> gradients, int rows, double normalizer)
        => Update(storage, gradients, rows, normalizer, rankK: false);

    /// <inheritdoc />
    public void RankKUpdate(IBlockStorage storage, ReadOnlySpan<double> gradients, int rows, double normalizer)
        => Update(storage, gradients, rows, normalizer, rankK: true);

    /// <inheritdoc />
    public void RankKUpdate(IBlockStorage storage, ReadOnlySpan<float> gradients, int rows, double normalizer)
        => Update(storage, gradients, rows, normalizer, rankK: true);

    /// <inheritdoc />
    public void Diagonal(IBlockStorage storage, Span<double> diagonal)
    {
        RequireLength(diagonal.Length, Check(storage).Dimension, nameof(diagonal));
        DiagonalCore(storage, diagonal);
    }

    /// <inheritdoc />
    public void Multiply(IBlockStorage storage, ReadOnlySpan<double> vectors, Span<double> result, int count)
    {
        var layout = Check(storage);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var length = (long)count * layout.Dimension;
        RequireLength(vectors.Length, length, nameof(vectors));
        RequireLength(result.Length, length, nameof(result));
        if (count > 0)
        {
            MultiplyCore(storage, vectors, result, count);
        }
    }

    /// <inheritdoc />
    public void ObsUpdate(IBlockStorage storage, Span<double> weights, ReadOnlySpan<bool> mask)
        => JointObsUpdate.Apply(Check(storage), weights, mask, ObsSource(storage), storage.Precision);

    /// <inheritdoc />
    public abstract void Dispose();

    /// <summary>Throws unless <paramref name="storage"/> was allocated by this backend and is usable.</summary>
    protected abstract void CheckOwnership(IBlockStorage storage);

    /// <summary>Sets every block to value·I (value finite).</summary>
    protected abstract void SetScaledIdentityCore(IBlockStorage storage, double value);

    /// <summary>Uploads all blocks.</summary>
    protected abstract void WriteCore(IBlockStorage storage, ReadOnlySpan<double> blocks);

    /// <summary>Downloads all blocks.</summary>
    protected abstract void ReadCore(IBlockStorage storage, Span<double> blocks);

    /// <summary>Downloads one block.</summary>
    protected abstract void ReadBlockCore(IBlockStorage storage, int block, Span<double> destination);

    /// <summary>
    /// <see cref="ReadSubMatrix"/> on checked arguments. This default downloads the whole block (c² entries for |Q|²); a
    /// backend whose blocks are in host memory reads the entries in place.
    /// </summary>
    protected virtual void ReadSubMatrixCore(IBlockStorage storage, int block, ReadOnlySpan<int> local, Span<double> destination)
    {
        var c = storage.Layout.Size(block);
        using var whole = new Rental<double>(c * c);
        ReadBlockCore(storage, block, whole.Array.AsSpan(0, c * c));
        Pick(whole.Array, c, local, destination);
    }

    /// <summary>
    /// <see cref="ReadSubMatrices"/> on checked arguments. This default downloads the block once for all the parts; a
    /// backend whose blocks are in host memory reads each part's entries in place.
    /// </summary>
    protected virtual void ReadSubMatricesCore(IBlockStorage storage, int block, IReadOnlyList<int[]> locals, Action<int, double[]> use)
    {
        if (locals.Count == 0)
        {
            return;
        }

        var c = storage.Layout.Size(block);
        using var whole = new Rental<double>(c * c);
        ReadBlockCore(storage, block, whole.Array.AsSpan(0, c * c));
        for (var i = 0; i < locals.Count; i++)
        {
            var k = locals[i].Length;
            var sub = new double[k * k];
            Pick(whole.Array, c, locals[i], sub);
            use(i, sub);
        }
    }

    /// <summary>Checks the storage, that <paramref name="block"/> is one of its blocks, and that every local index lies in it.</summary>
    private void CheckLocal(IBlockStorage storage, int block, ReadOnlySpan<int> local, string name)
    {
        var layout = Check(storage);
        ArgumentOutOfRangeException.ThrowIfNegative(block);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(block, layout.Count);
        var c = layout.Size(block);
        foreach (var q in local)
        {
            if (q < 0 || q >= c)
            {
                throw new ArgumentOutOfRangeException(name, q, $"Block {block} has local indices 0 … {c - 1}.");
            }
        }
    }

    /// <summary>The entries (local[i], local[j]) of the c × c block <paramref name="whole"/>, row-major.</summary>
    private static void Pick(double[] whole, int c, ReadOnlySpan<int> local, Span<double> destination)
    {
        var k = local.Length;
        for (var i = 0; i < k; i++)
        {
            for (var j = 0; j < k; j++)
            {
                destination[(i * k) + j] = whole[(local[i] * c) + local[j]];
            }
        }
    }

    /// <summary>The diagonal of every block.</summary>
    protected abstract void DiagonalCore(IBlockStorage storage, Span<double> diagonal);

    /// <summary>The block-diagonal product of count ≥ 1 vectors.</summary>
    protected abstract void MultiplyCore(IBlockStorage storage, ReadOnlySpan<double> vectors, Span<double> result, int count);

    /// <summary>Rank-one (or rank-k) updates by rows ≥ 1 gradients (rows × d entries) with N positive and finite.</summary>
    protected abstract void UpdateCore<TSrc>(IBlockStorage storage, ReadOnlySpan<TSrc> gradients, int rows, double normalizer, bool rankK)
        where TSrc : unmanaged, IFloatingPointIeee754<TSrc>;

    /// <summary>The column gather of the joint OBS update on <paramref name="storage"/>.</summary>
    protected abstract IJointObsSource ObsSource(IBlockStorage storage);

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="name"/> unless the lengths match.</summary>
    protected static void RequireLength(long actual, long expected, string name)
    {
        if (actual != expected)
        {
            throw new ArgumentException($"Expected {expected} elements, got {actual}.", name);
        }
    }

    private BlockLayout Check(IBlockStorage storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        CheckOwnership(storage);
        return storage.Layout;
    }

    private void Update<TSrc>(IBlockStorage storage, ReadOnlySpan<TSrc> gradients, int rows, double normalizer, bool rankK)
        where TSrc : unmanaged, IFloatingPointIeee754<TSrc>
    {
        var layout = Check(storage);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        if (!(normalizer > 0) || !double.IsFinite(normalizer))
        {
            throw new ArgumentOutOfRangeException(nameof(normalizer), normalizer, "The normalizer N must be positive and finite.");
        }

        RequireLength(gradients.Length, (long)rows * layout.Dimension, nameof(gradients));
        if (rows > 0)
        {
            UpdateCore(storage, gradients, rows, normalizer, rankK);
        }
    }
}
