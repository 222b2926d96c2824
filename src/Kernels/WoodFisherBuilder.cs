using System.Numerics;
using System.Numerics.Tensors;
using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels;

/// <summary>
/// Builds the block-diagonal WoodFisher inverse F̂⁻¹, F̂ = λI + (1/N) Σₙ gₙgₙᵀ, from gradients streamed in chunks of
/// rows (row-major, rows × d), so the whole gradient matrix G need not be in memory.
/// </summary>
/// <remarks>
/// <para>Rows are first averaged in groups of <see cref="WoodFisherOptions.MiniBatch"/> (a trailing partial group is
/// averaged over the rows it has); the averaged rows are the gradients gₙ that enter, and m counts them.</para>
/// <para>Normalizer: the Woodbury strategies need N before the first update, because
/// λI + (1/N)GᵀG is not a rescaling of λI + (1/N′)GᵀG. N is <see cref="WoodFisherOptions.Normalizer"/> when set;
/// otherwise m, known up front when the caller passes <c>expectedRows</c> (the raw row count, checked at
/// <see cref="Build"/>). With neither, <see cref="WoodburyStrategy.Rank1"/> and <see cref="WoodburyStrategy.RankK"/>
/// buffer the averaged rows in memory until <see cref="Build"/> (counted by the memory guard), and
/// <see cref="WoodburyStrategy.Dense"/> (which needs N only at the end) streams as always.</para>
/// <para><see cref="WoodburyStrategy.Auto"/> picks by (c, m) with <see cref="ChooseStrategy"/>; with m unknown it picks
/// Dense, which streams and is the cheaper of the two for large m.</para>
/// </remarks>
public sealed class WoodFisherBuilder : IDisposable
{
    private const long PendingElements = 1 << 22;

    /// <summary>
    /// <see cref="Build"/> collects at once when it drops at least this many bytes of row panel and Gram matrices. Left to
    /// itself the GC keeps them (they sit in the large-object heap) until its gen-2 budget, sized by that very build, runs
    /// out well into the caller's next allocations: pruning d = 266,200 with c = 400 peaked at 3.7 GB with the dead
    /// 852 MB Gram still resident under the OBS update's garbage, 2.3 GB with this collection.
    /// </summary>
    private const long CollectBytes = 1L << 28;

    private readonly WoodFisherOptions _options;
    private readonly ICurvatureBackend _backend;
    private readonly bool _ownsBackend;
    private readonly long? _expectedRows;
    private readonly double? _normalizer;
    private readonly bool _buffering;
    private readonly double[] _batchSum;
    private double[] _pending = [];
    private readonly int _pendingCapacity;
    private readonly List<double[]> _buffered = [];
    private readonly long _baseBytes;
    private IBlockStorage? _storage;
    private double[]? _gram;
    private int _batchCount;
    private int _pendingRows;
    private long _rawRows;
    private long _entered;
    private long _bufferedBytes;
    private bool _finished;

    /// <summary>Starts a builder for d = <paramref name="dimension"/> coordinates on the backend chosen by the options.</summary>
    public WoodFisherBuilder(int dimension, WoodFisherOptions options)
        : this(dimension, options, null, null)
    {
    }

    /// <summary>
    /// Starts a builder for d = <paramref name="dimension"/> coordinates.
    /// </summary>
    /// <param name="dimension">d ≥ 1.</param>
    /// <param name="options">Block size, damping, strategy, precision, …</param>
    /// <param name="expectedRows">The number of raw gradient rows that will be added (before mini-batch averaging), when
    /// known: it fixes N = ⌈rows / B⌉ up front (if <see cref="WoodFisherOptions.Normalizer"/> is null) so the Woodbury
    /// strategies can stream, and lets <see cref="WoodburyStrategy.Auto"/> see m. <see cref="Build"/> checks it.</param>
    /// <param name="backend">A backend to run on (not disposed by the builder or the inverse), or null to create one
    /// from <see cref="WoodFisherOptions.Backend"/>.</param>
    public WoodFisherBuilder(int dimension, WoodFisherOptions options, long? expectedRows, ICurvatureBackend? backend = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validate(dimension, options);
        if (expectedRows is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(expectedRows), expectedRows, "The expected row count must be at least 1.");
        }

        _options = options;
        _expectedRows = expectedRows;
        Layout = BlockLayout.Create(dimension, options.BlockSize, options.Segments);
        long? m = expectedRows is { } e ? (e + options.MiniBatch - 1) / options.MiniBatch : null;
        _normalizer = options.Normalizer ?? m;
        Strategy = options.Strategy == WoodburyStrategy.Auto ? (m is { } mm ? ChooseStrategy(Layout.BlockSize, mm) : WoodburyStrategy.Dense) : options.Strategy;
        _buffering = Strategy != WoodburyStrategy.Dense && _normalizer is null;
        _pendingCapacity = PendingRows(Layout);
        _baseBytes = EstimateBytesCore(Layout, options.Precision, Strategy, _pendingCapacity);
        EnsureMemory(_baseBytes);

        _backend = backend ?? Backends.Create(options.Backend);
        _ownsBackend = backend is null;
        _batchSum = options.MiniBatch > 1 ? new double[dimension] : [];
        if (Strategy == WoodburyStrategy.Dense)
        {
            if (Layout.SquareLength > Array.MaxLength)
            {
                throw new NotSupportedException($"Σc_i² = {Layout.SquareLength} block elements exceed one array; use a smaller block size.");
            }

            _gram = new double[Layout.SquareLength];
        }
        else
        {
            _storage = _backend.Allocate(Layout, options.Precision);
            _backend.SetScaledIdentity(_storage, 1.0 / options.Damping);
        }
    }

    /// <summary>The block partition.</summary>
    public BlockLayout Layout { get; }

    /// <summary>The strategy in use (<see cref="WoodburyStrategy.Auto"/> resolved).</summary>
    public WoodburyStrategy Strategy { get; }

    /// <summary>Raw gradient rows added so far (before mini-batch averaging).</summary>
    public long RowsAdded => _rawRows;

    /// <summary>
    /// Rows per panel: the rank-k panel and Gram GEMM height the builder gathers rows into (max(2²²/d, min(c/2, 96)),
    /// at most 256).
    /// </summary>
    public int PanelRows => _pendingCapacity;

    /// <summary>Whether the float64 panel buffer has been allocated (tests).</summary>
    internal bool PanelBufferAllocated => _pending.Length > 0;

    /// <summary>
    /// True when chunks of a multiple of <see cref="PanelRows"/> rows (and the last chunk, whatever its size) reach the
    /// backend straight from the caller's span, without the builder's float64 panel buffer, which is then never
    /// allocated: the rank-1 and rank-k strategies with N known and no mini-batch averaging.
    /// </summary>
    public bool StreamsWithoutCopy => !_buffering && _options.MiniBatch == 1 && (Strategy is WoodburyStrategy.Rank1 or WoodburyStrategy.RankK);

    /// <summary>
    /// The gradient count m* = 3c from which <see cref="WoodburyStrategy.Auto"/> picks Dense over RankK for block size c.
    /// Rank-k costs ≈ 3c²m + 2ckm flops per block at GEMM speed (less on a fresh block, whose first panel needs no
    /// U = GₖF⁻¹); dense costs ≈ c²m (Gram, lower half, float64) plus ≈ 1.7c³ for the Cholesky inverse, so the crossover
    /// is linear in c. Measured with <c>woodfisher bench --grid c:m:d,… --repeats 5</c> (best of three runs, 2 shared
    /// cores of an AMD EPYC with AVX-512, float32): with every block in cache (d = 4c) Dense/RankK time is 1.1–1.8 at
    /// m = 2c, 0.86–0.99 at 2.5c–2.75c, 0.72–0.92 at 3c and 0.67–0.85 at 4c for c = 128…1024; at d = 65,536 (c = 256, 512)
    /// 1.07 at 2c, 0.97–0.98 at 2.5c, 0.89–0.92 at 3c; at d = 266,200, c = 400, m = 2.5c (model-mode pruning of an MLP) RankK
    /// builds 1.5–1.8× faster. Between 2c and 3c the two are within about 10%, and RankK needs no float64 Gram (c·8 bytes per
    /// parameter), so it keeps the range.
    /// </summary>
    public static long DenseCrossoverRows(int blockSize) => 3L * blockSize;

    /// <summary>The strategy <see cref="WoodburyStrategy.Auto"/> picks for block size c and m gradients: RankK or Dense.</summary>
    public static WoodburyStrategy ChooseStrategy(int blockSize, long rows)
        => rows >= DenseCrossoverRows(blockSize) ? WoodburyStrategy.Dense : WoodburyStrategy.RankK;

    /// <summary>
    /// Bytes the builder and the finished inverse need for these options: Σc_i² × element size for the blocks, Σc_i² × 8
    /// for the float64 Gram matrices of the Dense strategy, plus streaming and per-thread workspace. Rows buffered
    /// because N is unknown (see the class remarks) come on top.
    /// </summary>
    public static long EstimateBytes(int dimension, WoodFisherOptions options, long? expectedRows = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validate(dimension, options);
        var layout = BlockLayout.Create(dimension, options.BlockSize, options.Segments);
        long? m = expectedRows is { } e ? (e + options.MiniBatch - 1) / options.MiniBatch : null;
        var strategy = options.Strategy == WoodburyStrategy.Auto ? (m is { } mm ? ChooseStrategy(layout.BlockSize, mm) : WoodburyStrategy.Dense) : options.Strategy;
        return EstimateBytesCore(layout, options.Precision, strategy, PendingRows(layout));
    }

    /// <summary>
    /// Rows gathered before they enter: the panel height k of the rank-k update and of the Gram GEMM. At least
    /// min(c/2, <see cref="CpuBackend.MaxPanel"/>) rows however large d is, so a wide gradient (d = 65,536 gives
    /// 2²²/d = 64 rows) does not cut the rank-k panel the backend asks for (c/4 in [32, 96]) short, while the k × d
    /// float64 buffer stays within the c × d float32 blocks themselves.
    /// </summary>
    private static int PendingRows(BlockLayout layout)
        => (int)Math.Clamp(Math.Max(PendingElements / layout.Dimension, Math.Min(layout.BlockSize / 2, CpuBackend.MaxPanel)), 1, 256);

    private static long EstimateBytesCore(BlockLayout layout, Precision precision, WoodburyStrategy strategy, int pendingRows)
    {
        long elem = precision == Precision.Float32 ? 4 : 8;
        var bytes = layout.SquareLength * elem;
        if (strategy == WoodburyStrategy.Dense)
        {
            bytes += layout.SquareLength * 8;
        }

        long c = layout.BlockSize;
        long k = CpuBackend.MaxPanel;
        var perThread = (((3 * c * k) + (2 * k * k)) * elem) + (256L * 2048 * elem) + (c * c * 8 * 2);
        bytes += (((long)pendingRows + 2) * layout.Dimension * 8) + (Environment.ProcessorCount * perThread);
        return bytes;
    }

    private static void EnsureMemory(long bytes) =>
        MemoryBudget.Require(bytes, "The WoodFisher inverse",
            "Use a smaller block size c, Precision.Float32, fewer coordinates, or pass expectedRows so rows need not be buffered.");

    private static void Validate(int dimension, WoodFisherOptions options)
    {
        if (dimension < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "The dimension d must be at least 1.");
        }

        if (options.BlockSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.BlockSize, "Block size c must be at least 1.");
        }

        if (!(options.Damping > 0) || !double.IsFinite(options.Damping))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Damping, "Damping λ must be positive and finite (e.g. 1e-5).");
        }

        if (options.Normalizer is { } n && (!(n > 0) || !double.IsFinite(n)))
        {
            throw new ArgumentOutOfRangeException(nameof(options), n, "Normalizer N must be positive and finite, or null for the number of rows.");
        }

        if (options.MiniBatch < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MiniBatch, "Mini-batch size must be at least 1.");
        }

        if (!Enum.IsDefined(options.Strategy) || !Enum.IsDefined(options.Backend) || !Enum.IsDefined(options.Precision))
        {
            throw new ArgumentOutOfRangeException(nameof(options), "Unknown strategy, backend or precision value.");
        }
    }

    /// <summary>Adds <paramref name="rows"/> gradients (rows × d row-major, float32).</summary>
    /// <exception cref="NonFiniteGradientException">An entry is NaN or infinite; nothing of this chunk was added.</exception>
    public void Add(ReadOnlySpan<float> gradients, int rows)
    {
        CheckChunk(gradients.Length, rows);
        ScanFinite(gradients);
        AddChecked(gradients, rows);
    }

    /// <summary>Adds <paramref name="rows"/> gradients (rows × d row-major, float64).</summary>
    /// <exception cref="NonFiniteGradientException">An entry is NaN or infinite; nothing of this chunk was added.</exception>
    public void Add(ReadOnlySpan<double> gradients, int rows)
    {
        CheckChunk(gradients.Length, rows);
        ScanFinite(gradients);
        AddChecked(gradients, rows);
    }

    private void CheckChunk(int length, int rows)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        if (length != (long)rows * Layout.Dimension)
        {
            throw new ArgumentException($"Expected {rows} × {Layout.Dimension} = {(long)rows * Layout.Dimension} gradient entries, got {length}.", "gradients");
        }
    }

    private void ScanFinite<T>(ReadOnlySpan<T> g)
        where T : IFloatingPointIeee754<T>
    {
        // MaxMagnitude is NaN when any entry is NaN and infinite when any is infinite: one vectorised pass in the
        // common all-finite case; the scalar scan only runs to name the offending entry.
        if (g.IsEmpty || T.IsFinite(TensorPrimitives.MaxMagnitude(g)))
        {
            return;
        }

        for (var i = 0; i < g.Length; i++)
        {
            if (!T.IsFinite(g[i]))
            {
                var d = Layout.Dimension;
                throw new NonFiniteGradientException(_rawRows + (i / d), i % d, double.CreateTruncating(g[i]));
            }
        }
    }

    private void AddChecked<T>(ReadOnlySpan<T> g, int rows)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = Layout.Dimension;
        var b = _options.MiniBatch;
        if (b == 1)
        {
            // Whole runs of rows go straight into the pending panel (converted to float64 in one vectorised pass), or,
            // for the Woodbury strategies with N known and whole panels on hand, straight to the backend without a copy.
            for (var r0 = 0; r0 < rows;)
            {
                var last = _expectedRows is { } e && _rawRows + (rows - r0) == e;
                if (_pendingRows == 0 && StreamsWithoutCopy && (rows - r0 >= _pendingCapacity || last))
                {
                    var whole = last ? rows - r0 : (rows - r0) / _pendingCapacity * _pendingCapacity;
                    ApplyDirect(g.Slice(r0 * d, whole * d), whole);
                    _rawRows += whole;
                    _entered += whole;
                    r0 += whole;
                    continue;
                }

                var n = Math.Min(_pendingCapacity - _pendingRows, rows - r0);
                EnsurePending();
                var src = g.Slice(r0 * d, n * d);
                var dst = _pending.AsSpan(_pendingRows * d, n * d);
                if (typeof(T) == typeof(double))
                {
                    System.Runtime.InteropServices.MemoryMarshal.Cast<T, double>(src).CopyTo(dst);
                }
                else
                {
                    TensorPrimitives.ConvertTruncating(src, dst);
                }

                _rawRows += n;
                _pendingRows += n;
                r0 += n;
                if (_pendingRows == _pendingCapacity)
                {
                    FlushPending();
                }
            }

            return;
        }

        for (var r = 0; r < rows; r++)
        {
            var row = g.Slice(r * d, d);
            _rawRows++;
            for (var i = 0; i < d; i++)
            {
                _batchSum[i] += double.CreateTruncating(row[i]);
            }

            if (++_batchCount == b)
            {
                FlushBatch();
            }
        }
    }

    /// <summary>Allocates the float64 panel buffer on first use (streams that never need it never pay for it).</summary>
    private void EnsurePending()
    {
        if (_pending.Length == 0)
        {
            _pending = new double[(long)_pendingCapacity * Layout.Dimension];
        }
    }

    private void FlushBatch()
    {
        var d = Layout.Dimension;
        EnsurePending();
        var dst = _pending.AsSpan(_pendingRows * d, d);
        var scale = 1.0 / _batchCount;
        for (var i = 0; i < d; i++)
        {
            dst[i] = _batchSum[i] * scale;
        }

        Array.Clear(_batchSum);
        _batchCount = 0;
        EnterPending();
    }

    private void EnterPending()
    {
        if (++_pendingRows == _pendingCapacity)
        {
            FlushPending();
        }
    }

    private void FlushPending()
    {
        if (_pendingRows == 0)
        {
            return;
        }

        var n = _pendingRows;
        _pendingRows = 0;
        _entered += n;
        if (_buffering)
        {
            _bufferedBytes += (long)n * Layout.Dimension * 8;
            EnsureMemory(_baseBytes + _bufferedBytes);
            _buffered.Add(_pending.AsSpan(0, n * Layout.Dimension).ToArray());
            return;
        }

        Apply(_pending, n, _normalizer ?? 1.0);
    }

    /// <summary>Applies <paramref name="n"/> caller rows (float32 or float64) by the Woodbury strategy, without copying them.</summary>
    private void ApplyDirect<T>(ReadOnlySpan<T> x, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var normalizer = _normalizer ?? 1.0;
        var rankK = Strategy == WoodburyStrategy.RankK;
        if (typeof(T) == typeof(float))
        {
            var rows = System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(x);
            if (rankK)
            {
                _backend.RankKUpdate(_storage!, rows, n, normalizer);
            }
            else
            {
                _backend.RankOneUpdates(_storage!, rows, n, normalizer);
            }
        }
        else
        {
            var rows = System.Runtime.InteropServices.MemoryMarshal.Cast<T, double>(x);
            if (rankK)
            {
                _backend.RankKUpdate(_storage!, rows, n, normalizer);
            }
            else
            {
                _backend.RankOneUpdates(_storage!, rows, n, normalizer);
            }
        }
    }

    /// <summary>Applies the first <paramref name="n"/> rows of <paramref name="x"/> (row-major, n × d).</summary>
    private void Apply(double[] x, int n, double normalizer)
    {
        var rows = x.AsSpan(0, n * Layout.Dimension);
        switch (Strategy)
        {
            case WoodburyStrategy.Rank1:
                _backend.RankOneUpdates(_storage!, rows, n, normalizer);
                break;
            case WoodburyStrategy.RankK:
                _backend.RankKUpdate(_storage!, rows, n, normalizer);
                break;
            default:
                AccumulateGram(x, n);
                break;
        }
    }

    /// <summary>Gram_b += X_bᵀX_b for every block b (float64, lower triangle by tiles).</summary>
    private void AccumulateGram(double[] xa, int n)
    {
        var gram = _gram!;
        var layout = Layout;
        var d = layout.Dimension;
        var inner = layout.Count < Environment.ProcessorCount;
        BlockParallel.For(layout.Count, b =>
        {
            var c = layout.Size(b);
            var off = layout.Offset(b);
            Gemm.Multiply(c, c, n, 1.0, StridedMatrix<double>.Transposed(xa, off, d), StridedMatrix<double>.RowMajor(xa, off, d), gram, layout.SquareOffset(b), c, lowerOnly: true, parallel: inner);
        });
    }

    /// <summary>Finishes the inverse; the builder cannot be used afterwards.</summary>
    /// <exception cref="InvalidOperationException">No rows were added, or the row count differs from <c>expectedRows</c>.</exception>
    /// <exception cref="BlockNotPositiveDefiniteException">A block lost positive definiteness.</exception>
    public WoodFisherInverse Build()
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        if (_batchCount > 0)
        {
            FlushBatch();
        }

        FlushPending();
        if (_entered == 0)
        {
            throw new InvalidOperationException("No gradients were added: the WoodFisher inverse needs at least one gradient row.");
        }

        if (_expectedRows is { } e && e != _rawRows)
        {
            throw new InvalidOperationException($"The builder was told to expect {e} gradient rows (which fixed N), but {_rawRows} were added.");
        }

        var normalizer = _normalizer ?? _entered;
        if (_buffering)
        {
            foreach (var chunk in _buffered)
            {
                Apply(chunk, chunk.Length / Layout.Dimension, normalizer);
            }

            _buffered.Clear();
        }

        // Collected here, after ReleaseBuffers has returned: collecting inside it left the Gram reachable (measured with a
        // weak reference; most likely a temporary of its still-running, unoptimised Tier-0 frame).
        if (ReleaseBuffers(normalizer) >= CollectBytes)
        {
            GC.Collect();
        }

        var inverse = new WoodFisherInverse(_backend, _storage!, _options.Damping, normalizer, _entered, _ownsBackend) { Strategy = Strategy };
        _storage = null;
        _finished = true;
        return inverse;
    }

    private void InvertGram(double normalizer)
    {
        var gram = _gram!;
        var layout = Layout;
        var lambda = _options.Damping;
        var single = layout.Count < Environment.ProcessorCount;
        BlockParallel.For(layout.Count, b =>
        {
            var c = layout.Size(b);
            var a = gram.AsSpan((int)layout.SquareOffset(b), c * c);
            var scale = 1.0 / normalizer;
            for (var i = 0; i < c; i++)
            {
                for (var j = 0; j <= i; j++)
                {
                    a[(i * c) + j] *= scale;
                }

                a[(i * c) + i] += lambda;
            }

            if (!LinearAlgebra.TryCholeskyInvert(a, c, single))
            {
                throw new BlockNotPositiveDefiniteException(b, "Cholesky of λI + GᵀG/N failed");
            }
        });

        _storage = _backend.Allocate(layout, _options.Precision);
        _backend.Write(_storage, gram);
        _gram = null;
    }

    /// <summary>Drops the float64 row panel and, for Dense, inverts the Gram matrices into the blocks and drops them; returns the bytes dropped.</summary>
    private long ReleaseBuffers(double normalizer)
    {
        var released = _pending.LongLength * 8;
        _pending = [];
        if (Strategy == WoodburyStrategy.Dense)
        {
            released += _gram!.LongLength * 8;
            InvertGram(normalizer);
        }

        return released;
    }

    /// <summary>One-call form: the inverse of all <paramref name="rows"/> gradients in <paramref name="gradients"/>.</summary>
    public static WoodFisherInverse Compute(ReadOnlySpan<float> gradients, int rows, int dimension, WoodFisherOptions options)
    {
        using var b = new WoodFisherBuilder(dimension, options, rows);
        b.Add(gradients, rows);
        return b.Build();
    }

    /// <summary>One-call form for float64 gradients (rows × d row-major).</summary>
    public static WoodFisherInverse Compute(ReadOnlySpan<double> gradients, int rows, int dimension, WoodFisherOptions options)
    {
        using var b = new WoodFisherBuilder(dimension, options, rows);
        b.Add(gradients, rows);
        return b.Build();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_finished)
        {
            _storage?.Dispose();
            _storage = null;
            _gram = null;
            _pending = [];
            _buffered.Clear();
            if (_ownsBackend)
            {
                _backend.Dispose();
            }

            _finished = true;
        }
    }
}
