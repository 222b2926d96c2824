using System.Numerics.Tensors;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// Rows as runs of (value, column) entries, the form CSR holds natively and N:M and narrow block tiles decode to, with the
/// entries of each row split at every <see cref="ChunkRows"/>-th input (<see cref="ChunkPointers"/>): C = WB is computed
/// one chunk of B's rows at a time (a chunk of a 64-column tile of B is 32 KiB, so it stays in L1 while every output row
/// takes its entries from it), instead of streaming all of B from L2 once per output row. Inside a chunk an entry's input
/// is held as its row of the chunk, a byte (<see cref="ChunkRows"/> ≤ 256).
/// </summary>
internal sealed class RowStore
{
    /// <summary>Inputs per chunk: 128 rows of a 64-float tile of B are 32 KiB.</summary>
    public const int DefaultChunkRows = 128;

    /// <summary>Output columns per tile of C (four 512-bit registers).</summary>
    public const int TileColumns = 64;

    private readonly float[] _values;
    private readonly int[] _columns;
    private readonly int[] _rowPointers;
    private readonly int[] _chunkPointers;
    private readonly byte[] _chunkColumns;
    private readonly SlidingRows? _wide;
    private readonly WindowedRows? _windowed;
    private SlidingRows? _narrow;
    private bool _narrowTried;
    private object? _narrowLock;

    /// <summary>Wraps entry arrays; <paramref name="chunkPointers"/> is rows × (chunks + 1): row r's entries for inputs [k·kc, (k+1)·kc) are [p[r, k], p[r, k+1]).</summary>
    public RowStore(int rows, int columns, float[] values, int[] cols, int[] rowPointers, int chunkRows, int[] chunkPointers)
    {
        (Rows, Columns, ChunkRows, Chunks) = (rows, columns, chunkRows, (columns + chunkRows - 1) / chunkRows);
        (_values, _columns, _rowPointers, _chunkPointers) = (values, cols, rowPointers, chunkPointers);
        _chunkColumns = ChunkColumns(rows, cols, chunkRows, Chunks, chunkPointers);
        (_wide, _windowed) = SlidingRows.Supported(16) ? Wide(rows, columns, values, cols, rowPointers) : (null, null);
        if (SimdPaths.Detected == SimdPath.Avx2)
        {
            _ = Narrow;
        }
    }

    public int Rows { get; }

    /// <summary>
    /// The AVX-512 layout for y = Wx with the fewer expected cycles: sliding windows of 16, or fixed windows of 32 held in
    /// registers over runs of steps (<see cref="WindowedRows"/>). A sliding step costs more than a windowed one
    /// (<see cref="SlidingRows.WideStepCost"/>), a run three steps of loop control: sparse rows (the 90% MLP's layers) slide
    /// cheaper, rows as regular as 2:4's, which fill every windowed step, keep the windows.
    /// </summary>
    private static (SlidingRows? Sliding, WindowedRows? Windowed) Wide(int rows, int columns, float[] values, int[] cols, int[] rowPointers)
    {
        var sliding = SlidingRows.TryBuild(16, rows, columns, values, cols, rowPointers);
        var windowed = WindowedRows.TryBuild(rows, columns, values, cols, rowPointers);
        if (windowed is null)
        {
            return (sliding, null);
        }

        return sliding is not null && SlidingRows.WideStepCost * sliding.Steps < windowed.Cost ? (sliding, null) : (null, windowed);
    }

    /// <summary>The AVX2 layout for y = Wx (windows of 8), built with the store where AVX2 is the widest path, else on first use (tests force the path); null where it does not pay.</summary>
    private SlidingRows? Narrow =>
        SlidingRows.Supported(8) ? LazyInitializer.EnsureInitialized(ref _narrow, ref _narrowTried, ref _narrowLock, () => SlidingRows.TryBuild(8, Rows, Columns, _values, _columns, _rowPointers)) : null;

    public int Columns { get; }

    public int ChunkRows { get; }

    public int Chunks { get; }

    public ReadOnlySpan<int> ChunkPointers => _chunkPointers;

    /// <summary>Each entry's input as its row inside its chunk (the chunk pointers place every entry in one chunk).</summary>
    private static byte[] ChunkColumns(int rows, int[] cols, int chunkRows, int chunks, int[] chunkPointers)
    {
        if (chunkRows > 256)
        {
            throw new ArgumentOutOfRangeException(nameof(chunkRows), chunkRows, "A chunk's rows are held as bytes: at most 256.");
        }

        WeightChecks.Auxiliary((cols.Length + 3L) / 4, $"The chunk rows of a sparse matrix's {cols.Length} entries");
        var local = new byte[cols.Length];
        for (var r = 0; r < rows; r++)
        {
            for (var k = 0; k < chunks; k++)
            {
                var at = (r * (chunks + 1)) + k;
                for (var e = chunkPointers[at]; e < chunkPointers[at + 1]; e++)
                {
                    var inChunk = cols[e] - (k * chunkRows);
                    if ((uint)inChunk >= (uint)chunkRows)
                    {
                        throw new InvalidOperationException($"Entry {e} (column {cols[e]}) lies outside chunk {k} of row {r}.");
                    }

                    local[e] = (byte)inChunk;
                }
            }
        }

        return local;
    }

    /// <summary>Chunk pointers of rows whose columns ascend within each row (CSR), found by one scan.</summary>
    public static int[] ScanChunks(int rows, int columns, int[] cols, int[] rowPointers, int chunkRows)
    {
        var chunks = (columns + chunkRows - 1) / chunkRows;
        WeightChecks.Auxiliary((long)rows * (chunks + 1), $"The chunk pointers of a {rows} × {columns} sparse matrix");
        var p = new int[rows * (chunks + 1)];
        for (var r = 0; r < rows; r++)
        {
            var e = rowPointers[r];
            var end = rowPointers[r + 1];
            var at = r * (chunks + 1);
            p[at] = e;
            for (var k = 1; k <= chunks; k++)
            {
                var limit = k * chunkRows;
                while (e < end && cols[e] < limit)
                {
                    e++;
                }

                p[at + k] = k == chunks ? end : e;
            }
        }

        return p;
    }

    /// <summary>y = Wx + b (lengths checked): in the batch-1 layout of the path (with AVX-512 the sliding or the windowed one, with AVX2 the sliding one with windows of 8), else one gathered dot product per row.</summary>
    public unsafe void MultiplyVector(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> bias, bool relu)
    {
        WeightChecks.Vector(Rows, Columns, x.Length, y.Length, bias.Length);
        fixed (float* px = x, pv = _values, py = y, pb = bias)
        fixed (int* pc = _columns, pp = _rowPointers)
        {
            if (_windowed is not null && SimdPaths.Current == SimdPath.Avx512)
            {
                _windowed.MultiplyVector(px, py, bias.IsEmpty ? null : pb);
                if (relu)
                {
                    TensorPrimitives.Max(y, 0f, y);
                }

                return;
            }

            var sliding = SimdPaths.Current switch
            {
                SimdPath.Avx512 => _wide,
                SimdPath.Avx2 => Narrow,
                _ => null,
            };
            if (sliding is not null)
            {
                sliding.MultiplyVector(px, py, bias.IsEmpty ? null : pb, relu);
                return;
            }

            for (var r = 0; r < Rows; r++)
            {
                var s = SparseKernels.Dot(pv + pp[r], pc + pp[r], pp[r + 1] - pp[r], px);
                y[r] = bias.IsEmpty ? s : s + bias[r];
            }
        }

        if (relu)
        {
            TensorPrimitives.Max(y, 0f, y);
        }
    }

    /// <summary>C = WB + b1ᵀ, tile of C by chunk of B by row (lengths checked).</summary>
    public unsafe void Multiply(ReadOnlySpan<float> b, int n, Span<float> c, ReadOnlySpan<float> bias, bool relu)
    {
        WeightChecks.Product(Rows, Columns, b.Length, n, c.Length, bias.Length);
        fixed (float* pb0 = b, pc0 = c, pbias0 = bias)
        {
            var (pb, pc, pbias) = ((nint)pb0, (nint)pc0, (nint)pbias0);
            SparseParallel.For(Rows, n, (long)_values.Length * n,
                (r0, r1, j0, j1) => MultiplyRange(r0, r1, j0, j1, (float*)pb, n, (float*)pc, (float*)pbias), _rowPointers,
                rectify: relu ? new SparseParallel.Rectifier(pc0, n, Rows, 1) : default);
        }
    }

    /// <summary>Rows [r0, r1) and columns [j0, j1) of C = WB + b1ᵀ on the calling thread (<paramref name="bias"/> may be null).</summary>
    public unsafe void MultiplyRange(int r0, int r1, int j0, int j1, float* b, int n, float* c, float* bias)
    {
        fixed (float* pv = _values)
        fixed (byte* pcol = _chunkColumns)
        fixed (int* pp = _chunkPointers)
        {
            var stride = Chunks + 1;
            for (var t0 = j0; t0 < j1; t0 += TileColumns)
            {
                var t1 = Math.Min(j1, t0 + TileColumns);
                for (var k = 0; k < Chunks; k++)
                {
                    SparseKernels.AxpyChunk(c, b + ((nint)k * ChunkRows * n), n, t0, t1, k, bias, pv, pcol, pp, stride, r0, r1);
                }
            }
        }
    }

    /// <summary>The rows in pairs for C = WB (<see cref="PairedRows"/>).</summary>
    public PairedRows Paired() => new(Rows, Columns, _values, _columns, _rowPointers);

    /// <summary>The rows four at a time for C = WB (<see cref="QuadRows"/>).</summary>
    public QuadRows Quads() => new(Rows, Columns, _values, _columns, _rowPointers);

    /// <summary>The dense row-major matrix (entries at the same place add up).</summary>
    public float[] ToDense()
    {
        var d = new float[(long)Rows * Columns];
        for (var r = 0; r < Rows; r++)
        {
            for (var e = _rowPointers[r]; e < _rowPointers[r + 1]; e++)
            {
                d[((long)r * Columns) + _columns[e]] += _values[e];
            }
        }

        return d;
    }
}
