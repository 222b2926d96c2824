namespace WoodFisher.Kernels;

/// <summary>
/// The block-diagonal inverse F̂⁻¹ of the damped empirical Fisher, as built by <see cref="WoodFisherBuilder"/>,
/// and the questions a pruner or a study asks of it. Indices are global coordinates in [0, d).
/// </summary>
public sealed class WoodFisherInverse : IDisposable
{
    internal WoodFisherInverse(ICurvatureBackend backend, IBlockStorage storage, bool ownsBackend)
    {
        Backend = backend;
        Storage = storage;
        OwnsBackend = ownsBackend;
    }

    internal ICurvatureBackend Backend { get; }

    internal IBlockStorage Storage { get; }

    internal bool OwnsBackend { get; }

    /// <summary>The block partition.</summary>
    public BlockLayout Layout => Storage.Layout;

    /// <summary>Dimension d.</summary>
    public int Dimension => Storage.Layout.Dimension;

    /// <summary>Storage precision.</summary>
    public Precision Precision => Storage.Precision;

    /// <summary>Name of the backend holding the blocks.</summary>
    public string BackendName => Backend.Name;

    /// <summary>Damping λ.</summary>
    public double Damping { get; internal init; }

    /// <summary>Normalizer N used in the updates.</summary>
    public double Normalizer { get; internal init; }

    /// <summary>Number of gradient rows that entered (after mini-batch averaging).</summary>
    public long SampleCount { get; internal init; }

    /// <summary>The strategy that computed the blocks.</summary>
    public WoodburyStrategy Strategy { get; internal init; }

    /// <summary>
    /// The rows the blocks were formed from when they were given as factors (F̂ = λI + (1/N)GᵀG exactly, from the same
    /// float32 rows), so that <see cref="ObsUpdate"/> may solve on the kept coordinates instead; null otherwise.
    /// </summary>
    internal IGradientRowFactors? Rows { get; init; }

    /// <summary>Bytes held by the blocks.</summary>
    public long Bytes => Layout.SquareLength * (Precision == Precision.Float32 ? 4 : 8);

    /// <summary>The diagonal [F̂⁻¹]_qq for all q (length d).</summary>
    public double[] Diagonal()
    {
        var d = new double[Dimension];
        Backend.Diagonal(Storage, d);
        return d;
    }

    /// <summary>Block <paramref name="block"/> as a dense c_b × c_b row-major array.</summary>
    public double[] Block(int block)
    {
        var c = Layout.Size(block);
        var dst = new double[c * c];
        Backend.ReadBlock(Storage, block, dst);
        return dst;
    }

    /// <summary>
    /// Copies block <paramref name="block"/> (c_b × c_b row-major) into <paramref name="destination"/> (length c_b²), so a
    /// caller walking all blocks can reuse one buffer instead of allocating Σc_i² doubles.
    /// </summary>
    public void ReadBlock(int block, Span<double> destination)
    {
        var c = Layout.Size(block);
        if (destination.Length != c * c)
        {
            throw new ArgumentException($"Block {block} has {c} × {c} = {c * c} entries, but the destination holds {destination.Length}.", nameof(destination));
        }

        Backend.ReadBlock(Storage, block, destination);
    }

    /// <summary>Column q of F̂⁻¹ restricted to q's block (length c_b; the rest of the column is zero).</summary>
    public double[] Column(int q)
    {
        var (b, local) = Layout.Locate(q);
        var c = Layout.Size(b);
        var block = Block(b);
        var col = new double[c];
        for (var i = 0; i < c; i++)
        {
            col[i] = block[(i * c) + local];
        }

        return col;
    }

    /// <summary>
    /// The principal sub-matrix [F̂⁻¹]_QQ for global indices Q that all lie in one block (|Q| × |Q|, row-major). Only those
    /// entries are read where the backend holds the blocks in host memory (structured pruning asks this once per group).
    /// </summary>
    public double[] SubMatrix(ReadOnlySpan<int> indices)
    {
        if (indices.Length == 0)
        {
            return [];
        }

        var (b, _) = Layout.Locate(indices[0]);
        var local = Local(b, indices);
        var sub = new double[indices.Length * indices.Length];
        Backend.ReadSubMatrix(Storage, b, local, sub);
        return sub;
    }

    /// <summary>The block-local indices of <paramref name="indices"/>, all of which must lie in block <paramref name="b"/>.</summary>
    private int[] Local(int b, ReadOnlySpan<int> indices)
    {
        var off = Layout.Offset(b);
        var c = Layout.Size(b);
        var local = new int[indices.Length];
        for (var i = 0; i < indices.Length; i++)
        {
            local[i] = indices[i] - off;
            if (local[i] < 0 || local[i] >= c)
            {
                throw new ArgumentException($"Index {indices[i]} is not in block {b} (coordinates {off}..{off + c - 1}) with index {indices[0]}.", nameof(indices));
            }
        }

        return local;
    }

    /// <summary>
    /// <see cref="SubMatrix"/> for each part (global indices that lie in one block), handed to <paramref name="use"/>(i,
    /// matrix) block by block, in the order of the parts within a block: the backend reads each block's parts together
    /// (a device backend downloads each block once rather than once per part).
    /// </summary>
    public void SubMatrices(IReadOnlyList<int[]> parts, Action<int, double[]> use)
    {
        ArgumentNullException.ThrowIfNull(parts);
        ArgumentNullException.ThrowIfNull(use);
        var byBlock = new SortedDictionary<int, List<int>>();
        for (var i = 0; i < parts.Count; i++)
        {
            if (parts[i].Length == 0)
            {
                use(i, []);
                continue;
            }

            var (b, _) = Layout.Locate(parts[i][0]);
            if (!byBlock.TryGetValue(b, out var list))
            {
                byBlock[b] = list = [];
            }

            list.Add(i);
        }

        foreach (var (b, members) in byBlock)
        {
            var locals = members.Select(i => Local(b, parts[i])).ToArray();
            Backend.ReadSubMatrices(Storage, b, locals, (j, sub) => use(members[j], sub));
        }
    }

    /// <summary>F̂⁻¹v for one vector (length d).</summary>
    public double[] Multiply(ReadOnlySpan<double> v)
    {
        var r = new double[Dimension];
        Multiply(v, r, 1);
        return r;
    }

    /// <summary>F̂⁻¹v for <paramref name="count"/> row-major vectors (count × d).</summary>
    public void Multiply(ReadOnlySpan<double> vectors, Span<double> result, int count)
    {
        if (vectors.Length != (long)count * Dimension || result.Length != vectors.Length)
        {
            throw new ArgumentException($"Expected {count} × {Dimension} vectors and result, got {vectors.Length} and {result.Length} elements.");
        }

        Backend.Multiply(Storage, vectors, result, count);
    }

    /// <summary>The quadratic form vᵀF̂⁻¹v.</summary>
    public double QuadraticForm(ReadOnlySpan<double> v)
    {
        var u = Multiply(v);
        var s = 0.0;
        for (var i = 0; i < u.Length; i++)
        {
            s += u[i] * v[i];
        }

        return s;
    }

    /// <summary>
    /// Joint OBS update per block: w ← w − F̂⁻¹E_Q([F̂⁻¹]_QQ)⁻¹w_Q with Q the pruned coordinates of each block;
    /// pruned weights end exactly at zero. When the blocks were formed from rows given as factors, a block whose kept
    /// coordinates are few enough takes the same step as (F̂_KK)⁻¹F̂_KQ·w_Q from the rows (a k × k solve instead of q × q).
    /// </summary>
    /// <param name="weights">w (length d), updated in place.</param>
    /// <param name="mask">Mask (length d): true = kept, false = pruned (in Q).</param>
    public void ObsUpdate(Span<double> weights, ReadOnlySpan<bool> mask)
    {
        if (weights.Length != Dimension || mask.Length != Dimension)
        {
            throw new ArgumentException($"Weights and mask must have length {Dimension}, got {weights.Length} and {mask.Length}.");
        }

        var rest = Rows is { } rows ? JointObsUpdate.ApplyKeptSet(Layout, weights, mask, rows, Damping, Normalizer) : null;
        Backend.ObsUpdate(Storage, weights, rest ?? mask);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Storage.Dispose();
        if (OwnsBackend)
        {
            Backend.Dispose();
        }
    }
}
