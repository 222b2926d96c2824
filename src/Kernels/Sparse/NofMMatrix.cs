namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// N:M sparsity stored compressed: each row's inputs fall into G = ⌈columns/M⌉ groups of M consecutive columns (the last
/// group may be shorter) and each group keeps N slots: a value and its offset inside the group (a byte, so M ≤ 256).
/// Groups with fewer than N non-zeros are padded with zero values. Arrays are rows × G·N (values float32, offsets uint8):
/// 5N/(4M) of the dense bytes, 0.625× for 2:4. The slot count is the same in every row, so rows need no pointers and
/// parallel parts carry equal work. y = Wx runs on the decoded input column of each slot. C = WB runs, with AVX-512, on
/// the rows four at a time over whole tiles of 32 or 64 columns (<see cref="QuadRows"/>, which reads an input several of
/// the four rows keep once) and on the rows in pairs elsewhere (<see cref="PairedRows"/>). The decoded columns and pairs
/// are held in memory beside the stored arrays (about 11 bytes per slot), the quads from their first product (about 5).
/// </summary>
public sealed class NofMMatrix : IWeightMatrix, IRowRangeProduct
{
    private readonly float[] _values;
    private readonly byte[] _offsets;
    private readonly RowStore _store;
    private readonly PairedRows _pairs;
    private QuadRows? _quads;

    /// <summary>Wraps the arrays after checking them (kept, not copied).</summary>
    /// <param name="rows">Output features.</param>
    /// <param name="columns">Input features.</param>
    /// <param name="n">N ≥ 1, slots kept per group.</param>
    /// <param name="m">M ∈ [N, 256], the group length.</param>
    /// <param name="values">rows × G·N values, group by group.</param>
    /// <param name="offsets">The offset inside its group of each value: below the group's length.</param>
    /// <exception cref="ArgumentException">Bad N, M or array lengths, or an offset outside its group.</exception>
    public NofMMatrix(int rows, int columns, int n, int m, float[] values, byte[] offsets)
    {
        WeightChecks.Shape(rows, columns);
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(offsets);
        CheckPattern(n, m);

        var groups = (columns + m - 1) / m;
        var slots = (long)rows * groups * n;
        if (values.Length != slots || offsets.Length != slots)
        {
            throw new ArgumentException($"A {rows} × {columns} {n}:{m} matrix stores {slots} values and offsets ({groups} groups of {n} per row); got {values.Length} and {offsets.Length}.");
        }

        var last = columns - ((groups - 1) * m);
        for (long s = 0; s < slots; s++)
        {
            var g = (int)(s / n % groups);
            var length = g == groups - 1 ? last : m;
            if (offsets[s] >= length)
            {
                throw new SparseArrayException($"Offset {s} is {offsets[s]}, outside its group of {length} columns (row {s / n / groups}, group {g}).", nameof(offsets), s);
            }
        }

        (Rows, Columns, N, M, Groups, _values, _offsets) = (rows, columns, n, m, groups, values, offsets);
        _store = Decode();
        _pairs = _store.Paired();
    }

    /// <inheritdoc/>
    public int Rows { get; }

    /// <inheritdoc/>
    public int Columns { get; }

    /// <summary>Slots kept per group.</summary>
    public int N { get; }

    /// <summary>Group length.</summary>
    public int M { get; }

    /// <summary>Groups per row, ⌈columns/M⌉.</summary>
    public int Groups { get; }

    /// <inheritdoc/>
    public WeightFormat Format => WeightFormat.NofM;

    /// <summary>rows × G·N values.</summary>
    public ReadOnlySpan<float> Values => _values;

    /// <summary>Each value's offset inside its group.</summary>
    public ReadOnlySpan<byte> Offsets => _offsets;

    /// <inheritdoc/>
    public long StoredValues => _values.Length;

    /// <inheritdoc/>
    public long StoredBytes => 5L * _values.Length;

    /// <summary>Compresses a row-major dense matrix whose every group of M inputs holds at most N non-zeros.</summary>
    /// <exception cref="ArgumentException">A group holds more than N non-zeros (the message names row and group).</exception>
    public static NofMMatrix FromDense(ReadOnlySpan<float> dense, int rows, int columns, int n, int m)
    {
        WeightChecks.Dense(dense.Length, rows, columns);
        CheckPattern(n, m);

        var groups = (columns + m - 1) / m;
        var values = new float[(long)rows * groups * n];
        var offsets = new byte[values.Length];
        long s = 0;
        for (var r = 0; r < rows; r++)
        {
            for (var g = 0; g < groups; g++)
            {
                var group = dense.Slice((r * columns) + (g * m), Math.Min(m, columns - (g * m)));
                var kept = 0;
                for (var j = 0; j < group.Length; j++)
                {
                    if (group[j] != 0)
                    {
                        if (kept == n)
                        {
                            throw new ArgumentException($"Row {r}, group {g} (columns {g * m}..{(g * m) + group.Length - 1}) holds more than {n} non-zeros: the matrix is not {n}:{m}.");
                        }

                        values[s + kept] = group[j];
                        offsets[s + kept++] = (byte)j;
                    }
                }

                // Padding slots point at the first column of the group with a zero value.
                s += n;
            }
        }

        return new NofMMatrix(rows, columns, n, m, values, offsets);
    }

    /// <summary>True when every group of M consecutive inputs in each row of the dense matrix holds at most N non-zeros.</summary>
    public static bool Fits(ReadOnlySpan<float> dense, int rows, int columns, int n, int m)
    {
        WeightChecks.Dense(dense.Length, rows, columns);
        for (var r = 0; r < rows; r++)
        {
            for (var g = 0; g < columns; g += m)
            {
                var kept = 0;
                foreach (var v in dense.Slice((r * columns) + g, Math.Min(m, columns - g)))
                {
                    if (v != 0 && ++kept > n)
                    {
                        return false;
                    }
                }
            }
        }

        return true;
    }

    /// <inheritdoc/>
    public void MultiplyVector(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> bias = default, bool relu = false) => _store.MultiplyVector(x, y, bias, relu);

    /// <inheritdoc/>
    public void Multiply(ReadOnlySpan<float> b, int n, Span<float> c, ReadOnlySpan<float> bias = default, bool relu = false)
    {
        WeightChecks.Product(this, b.Length, n, c.Length, bias.Length);
        var wide = QuadRows.WideColumns(n);
        if (wide > 0)
        {
            LazyInitializer.EnsureInitialized(ref _quads, _store.Quads).Multiply(b, n, c, bias, relu, wide);
        }

        if (wide < n)
        {
            _pairs.Multiply(b, n, c, bias, relu, wide);
        }
    }

    /// <inheritdoc/>
    int IRowRangeProduct.RowUnit => 4;

    /// <inheritdoc/>
    unsafe void IRowRangeProduct.MultiplyRows(float* b, int n, float* c, float* bias, bool relu, int r0, int r1)
    {
        var wide = QuadRows.WideColumns(n);
        if (wide > 0)
        {
            LazyInitializer.EnsureInitialized(ref _quads, _store.Quads).MultiplyRange(r0 / 4, (r1 + 3) / 4, 0, wide, b, n, c, bias);
        }

        if (wide < n)
        {
            _pairs.MultiplyRange(r0 / 2, (r1 + 1) / 2, wide, n, b, n, c, bias);
        }

        if (relu)
        {
            new SparseParallel.Rectifier(c, n, Rows, 1).Apply(r0, r1, 0, n);
        }
    }

    /// <inheritdoc/>
    public float[] ToDense() => _store.ToDense();

    private static void CheckPattern(int n, int m)
    {
        if (n < 1 || m < n || m > 256)
        {
            throw new ArgumentException($"N:M needs 1 ≤ N ≤ M ≤ 256; got {n}:{m}.");
        }
    }

    /// <summary>
    /// The input column of every slot (group·M + offset) and the chunk pointers: chunks hold whole groups, so they are
    /// ⌊128/M⌋·M inputs long (M when M &gt; 128) and row r's slots for chunk k start at r·G·N + k·(chunk/M)·N.
    /// </summary>
    private RowStore Decode()
    {
        var slots = Groups * N;
        var chunkRows = Math.Max(1, RowStore.DefaultChunkRows / M) * M;
        var chunks = (Columns + chunkRows - 1) / chunkRows;
        WeightChecks.Auxiliary(_values.Length + ((long)Rows * (chunks + 2)), $"The decoded columns of a {Rows} × {Columns} {N}:{M} matrix");
        var cols = new int[_values.Length];
        for (long s = 0; s < cols.Length; s++)
        {
            cols[s] = ((int)(s / N % Groups) * M) + _offsets[s];
        }

        var pointers = new int[Rows + 1];
        for (var r = 0; r <= Rows; r++)
        {
            pointers[r] = r * slots;
        }

        var groupsPerChunk = chunkRows / M;
        var chunkPointers = new int[Rows * (chunks + 1)];
        for (var r = 0; r < Rows; r++)
        {
            for (var k = 0; k <= chunks; k++)
            {
                chunkPointers[(r * (chunks + 1)) + k] = (r * slots) + (Math.Min(Groups, k * groupsPerChunk) * N);
            }
        }

        return new RowStore(Rows, Columns, _values, cols, pointers, chunkRows, chunkPointers);
    }
}
