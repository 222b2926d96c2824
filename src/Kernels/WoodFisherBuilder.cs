using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
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
/// <para><see cref="WoodburyStrategy.Auto"/> picks by (c, m) with <see cref="StrategyCostModel"/> (on a GPU, rank-k for
/// large layouts); with m unknown it picks Dense, which streams without N. The Dense strategy's own work is in <see cref="DenseStrategy"/>, the memory check in
/// <see cref="MemoryEstimate"/>.</para>
/// </remarks>
public sealed partial class WoodFisherBuilder : IDisposable, IRowSink
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
    private readonly int _pendingCapacity;
    private readonly GradientIntake _intake;
    private readonly List<double[]> _buffered = [];
    private readonly long _baseBytes;
    private IBlockStorage? _storage;
    private DenseStrategy? _dense;
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
    /// <param name="panelRows">Rows per panel (<see cref="PanelRows"/>), or null for this layout's default. A builder of a
    /// group of a larger layout's blocks passes that layout's <see cref="PanelRows"/>, so that, fed the same row chunks, its
    /// blocks see the same panels and come out the same bits.</param>
    public WoodFisherBuilder(int dimension, WoodFisherOptions options, long? expectedRows, ICurvatureBackend? backend = null, int? panelRows = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(dimension, nameof(options));
        if (expectedRows is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(expectedRows), expectedRows, "The expected row count must be at least 1.");
        }

        _options = options;
        _expectedRows = expectedRows;
        Layout = BlockLayout.Create(dimension, options.BlockSize, options.Segments);
        long? m = expectedRows is { } e ? (e + options.MiniBatch - 1) / options.MiniBatch : null;
        _normalizer = options.Normalizer ?? m;
        Strategy = Resolve(Layout, options, m, OnDevice(options, backend));
        _buffering = Strategy != WoodburyStrategy.Dense && _normalizer is null;
        if (panelRows is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(panelRows), panelRows, "Rows per panel must be at least 1.");
        }

        _pendingCapacity = panelRows ?? PendingRows(Layout, StreamsWithoutCopy);
        _baseBytes = MemoryEstimate.Bytes(Layout, options.Precision, Strategy, _pendingCapacity, m);
        MemoryEstimate.Require(_baseBytes);

        _backend = backend ?? Backends.Create(options.Backend);
        _ownsBackend = backend is null;
        _intake = new GradientIntake(dimension, options.MiniBatch, _pendingCapacity, expectedRows, StreamsWithoutCopy, this);
        if (Strategy == WoodburyStrategy.Dense)
        {
            _dense = new DenseStrategy(Layout, options.Precision, m);
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
    public long RowsAdded => _intake.RawRows;

    /// <summary>
    /// Rows per panel: the rank-k panel and Gram GEMM height the builder gathers rows into (max(2²²/d, min(c/2, 96)),
    /// at most 256).
    /// </summary>
    public int PanelRows => _pendingCapacity;

    /// <summary>Whether the float64 panel buffer has been allocated (tests).</summary>
    internal bool PanelBufferAllocated => _intake.PanelAllocated;

    /// <summary>
    /// True when chunks of a multiple of <see cref="PanelRows"/> rows (and the last chunk, whatever its size) reach the
    /// backend straight from the caller's span, without the builder's float64 panel buffer, which is then never
    /// allocated: with no mini-batch averaging, the rank-1 and rank-k strategies with N known and the float32 Dense
    /// strategy (whose float32 products read the rows in place).
    /// </summary>
    public bool StreamsWithoutCopy => !_buffering && ReadsRowsInPlace(Strategy, _options.Precision, _options.MiniBatch);

    /// <summary>
    /// The strategy <see cref="WoodburyStrategy.Auto"/> picks for block size c and m gradients in float32 (with d = c):
    /// the cheapest by <see cref="StrategyCostModel.Default"/>.
    /// </summary>
    public static WoodburyStrategy ChooseStrategy(int blockSize, long rows)
        => StrategyCostModel.Default.Choose(BlockLayout.Create(blockSize, blockSize), rows, Precision.Float32);

    /// <summary>
    /// Bytes the builder and the finished inverse need for these options: Σc_i² × element size for the blocks, Σc_i² × 8
    /// for the float64 Gram matrices of the Dense strategy, plus streaming and per-thread workspace. Rows buffered
    /// because N is unknown (see the class remarks) come on top.
    /// </summary>
    public static long EstimateBytes(int dimension, WoodFisherOptions options, long? expectedRows = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(dimension, nameof(options));
        var layout = BlockLayout.Create(dimension, options.BlockSize, options.Segments);
        long? m = expectedRows is { } e ? (e + options.MiniBatch - 1) / options.MiniBatch : null;
        var strategy = Resolve(layout, options, m, OnDevice(options, null));
        var direct = (m is not null || options.Normalizer is not null) && ReadsRowsInPlace(strategy, options.Precision, options.MiniBatch);
        return MemoryEstimate.Bytes(layout, options.Precision, strategy, PendingRows(layout, direct), m);
    }

    /// <summary>
    /// Rows gathered before they enter: the panel height k of the rank-k update and of the Gram GEMM. At least
    /// min(c/2, <see cref="CpuBackend.MaxPanel"/>) rows however large d is, so a wide gradient (d = 65,536 gives
    /// 2²²/d = 64 rows) does not cut the rank-k panel the backend asks for (c/4 in [32, 96]) short, while the k × d
    /// float64 buffer stays within the c × d float32 blocks themselves. Rows read in place (<paramref name="direct"/>)
    /// enter up to c/2 at a time (at most 256): the rank-k kernel takes a fresh block's first panel that tall and splits
    /// the rest evenly, where 96-row calls would cut m = 128 into a fresh 96 and a starved 32 (measured at c = 1,000:
    /// two thirds of the rate of one 128-row call).
    /// </summary>
    internal static int PendingRows(BlockLayout layout, bool direct = false)
        => (int)Math.Clamp(Math.Max(PendingElements / layout.Dimension, Math.Min(layout.BlockSize / 2, direct ? 256 : CpuBackend.MaxPanel)), 1, 256);

    /// <summary>Whether these options' rows reach the backend in place once N is known (see <see cref="StreamsWithoutCopy"/>).</summary>
    internal static bool ReadsRowsInPlace(WoodburyStrategy strategy, Precision precision, int miniBatch) => miniBatch == 1
        && (strategy is WoodburyStrategy.Rank1 or WoodburyStrategy.RankK || (strategy == WoodburyStrategy.Dense && precision == Precision.Float32));

    /// <summary>Adds <paramref name="rows"/> gradients (rows × d row-major, float32).</summary>
    /// <exception cref="NonFiniteGradientException">An entry is NaN or infinite; nothing of this chunk was added.</exception>
    public void Add(ReadOnlySpan<float> gradients, int rows)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        _intake.Add(gradients, rows);
    }

    /// <summary>Adds <paramref name="rows"/> gradients (rows × d row-major, float64).</summary>
    /// <exception cref="NonFiniteGradientException">An entry is NaN or infinite; nothing of this chunk was added.</exception>
    public void Add(ReadOnlySpan<double> gradients, int rows)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        _intake.Add(gradients, rows);
    }

    void IRowSink.Panel(double[] rows, int n)
    {
        if (_buffering)
        {
            _bufferedBytes += (long)n * Layout.Dimension * 8;
            MemoryEstimate.Require(_baseBytes + _bufferedBytes);
            _buffered.Add(rows.AsSpan(0, n * Layout.Dimension).ToArray());
            return;
        }

        Apply(rows, n, _normalizer ?? 1.0);
    }

    void IRowSink.Direct<T>(ReadOnlySpan<T> x, int n)
    {
        if (_dense is { } dense)
        {
            dense.Accumulate(x, n);
            return;
        }

        var normalizer = _normalizer ?? 1.0;
        var rankK = Strategy == WoodburyStrategy.RankK;
        if (typeof(T) == typeof(float))
        {
            var rows = MemoryMarshal.Cast<T, float>(x);
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
            var rows = MemoryMarshal.Cast<T, double>(x);
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
                _dense!.Accumulate(x, n);
                break;
        }
    }

    /// <summary>Finishes the inverse; the builder cannot be used afterwards.</summary>
    /// <exception cref="InvalidOperationException">No rows were added, or the row count differs from <c>expectedRows</c>.</exception>
    /// <exception cref="BlockNotPositiveDefiniteException">A block lost positive definiteness.</exception>
    public WoodFisherInverse Build()
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        var (entered, normalizer) = FlushRows();
        var factors = _dense?.Factors;
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

        RequirePositiveDiagonal(_storage!);
        var inverse = new WoodFisherInverse(_backend, _storage!, _ownsBackend)
        {
            Damping = _options.Damping,
            Normalizer = normalizer,
            SampleCount = entered,
            Strategy = Strategy,
            Rows = factors,
        };
        _storage = null;
        _finished = true;
        return inverse;
    }

    /// <summary>Flushes the pending rows and checks their count; returns the rows that entered and N.</summary>
    private (long Entered, double Normalizer) FlushRows()
    {
        _intake.Flush();
        var entered = _intake.Entered;
        if (entered == 0)
        {
            throw new InvalidOperationException("No gradients were added: the WoodFisher inverse needs at least one gradient row.");
        }

        if (_expectedRows is { } e && e != _intake.RawRows)
        {
            throw new InvalidOperationException($"The builder was told to expect {e} gradient rows (which fixed N), but {_intake.RawRows} were added.");
        }

        return (entered, _normalizer ?? entered);
    }

    /// <summary>Drops the float64 row panel and, for Dense, inverts the Gram matrices into the blocks and drops them; returns the bytes dropped.</summary>
    private long ReleaseBuffers(double normalizer)
    {
        var released = _intake.Release();
        if (_dense is { } dense)
        {
            released += dense.HeldBytes;
            _storage = dense.Finish(_backend, _options.Damping, normalizer);
            _dense = null;
        }

        return released;
    }

    /// <summary>
    /// The check every strategy ends with, on every backend: each diagonal entry of F̂⁻¹, in the storage precision, is
    /// positive and finite (F̂⁻¹ is positive definite). It catches what rounding to the storage loses, e.g. a Dense block
    /// whose 1/(λ + 10⁶⁰) is 0 in float32.
    /// </summary>
    private void RequirePositiveDiagonal(IBlockStorage storage)
    {
        var diagonal = new double[Layout.Dimension];
        _backend.Diagonal(storage, diagonal);
        for (var q = 0; q < diagonal.Length; q++)
        {
            if (!(diagonal[q] > 0) || !double.IsFinite(diagonal[q]))
            {
                var (b, i) = Layout.Locate(q);
                throw new BlockNotPositiveDefiniteException(b, $"diagonal entry {i} of F̂⁻¹ is {diagonal[q]:G6} in {_options.Precision}");
            }
        }
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
            _dense = null;
            _intake.Release();
            _buffered.Clear();
            if (_ownsBackend)
            {
                _backend.Dispose();
            }

            _finished = true;
        }
    }
}
