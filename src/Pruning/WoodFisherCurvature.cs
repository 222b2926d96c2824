using WoodFisher.Kernels;
using WoodFisher.Models;

namespace WoodFisher.Pruning;

/// <summary>
/// The WoodFisher estimate: block-diagonal F̂⁻¹ with F̂ = λI + (1/N)Σₙ gₙgₙᵀ restricted to blocks of c coordinates
/// (blocks restart at layer boundaries), built by Woodbury updates in <see cref="WoodFisherBuilder"/>. All queries
/// delegate to <see cref="WoodFisherInverse"/>; joint updates are exact inside each block.
/// </summary>
public sealed class WoodFisherCurvature : IInverseCurvature, IDisposable
{
    /// <summary>
    /// Most float32 entries read from the source at once (16 MiB) when the builder gathers rows into its own float64
    /// panel (dense strategy, mini-batch averaging): with d = 266,200 a 256-row read would hold 272 MB of rows next to it.
    /// When the builder streams without a copy, reads are one panel (<see cref="WoodFisherBuilder.PanelRows"/>) instead.
    /// </summary>
    public const long MaxChunkElements = 1 << 22;

    private readonly bool _owns;

    /// <summary>
    /// Wraps an inverse the caller keeps: by default disposing this leaves <paramref name="inverse"/> alone, so
    /// <c>using var inv = builder.Build(); var h = new WoodFisherCurvature(inv);</c> disposes it once. Pass
    /// <paramref name="ownsInverse"/> = true to hand it over (disposing this then disposes it).
    /// </summary>
    public WoodFisherCurvature(WoodFisherInverse inverse, bool ownsInverse = false)
    {
        ArgumentNullException.ThrowIfNull(inverse);
        Inverse = inverse;
        _owns = ownsInverse;
    }

    /// <summary>The wrapped inverse.</summary>
    public WoodFisherInverse Inverse { get; }

    /// <inheritdoc />
    public int Dimension => Inverse.Dimension;

    /// <inheritdoc />
    public BlockLayout Layout => Inverse.Layout;

    /// <inheritdoc />
    public string Name => $"woodfisher(c={Inverse.Layout.BlockSize}, λ={Inverse.Damping:g3}, {Inverse.BackendName}{(PrecisionFallback ? ", float64 after float32 lost definiteness" : "")})";

    /// <summary>True when <see cref="FromGradients"/> rebuilt in float64 because float32 lost positive definiteness.</summary>
    public bool PrecisionFallback { get; init; }

    /// <inheritdoc />
    public long Bytes => Inverse.Bytes;

    /// <summary>
    /// Streams every row of <paramref name="source"/> (from its start, in chunks of at most <paramref name="chunkRows"/>
    /// rows: one builder panel when the builder streams without a copy, else at most <see cref="MaxChunkElements"/>
    /// entries, at least one row) into a <see cref="WoodFisherBuilder"/> that is told
    /// the source's row count when known, so no strategy buffers the whole gradient matrix G. When
    /// <paramref name="options"/> has no segments, the source's segments are used.
    /// A float32 build that loses positive definiteness (at small λ the Woodbury system S = N·I + G F⁻¹ Gᵀ has entries
    /// of order ‖g‖²/λ, beyond float32's reach) is rebuilt once in float64 from the same rows
    /// (<see cref="PrecisionFallback"/>); a float64 failure propagates.
    /// </summary>
    /// <exception cref="BlockNotPositiveDefiniteException">A block lost positive definiteness in float64 too.</exception>
    public static WoodFisherCurvature FromGradients(IGradientSource source, WoodFisherOptions options, int chunkRows = 256)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkRows, 1);
        var opts = options.Segments is null ? options with { Segments = source.Segments } : options;
        try
        {
            return new WoodFisherCurvature(Build(source, opts, chunkRows), ownsInverse: true);
        }
        catch (BlockNotPositiveDefiniteException) when (opts.Precision == Precision.Float32)
        {
            return new WoodFisherCurvature(Build(source, opts with { Precision = Precision.Float64 }, chunkRows), ownsInverse: true) { PrecisionFallback = true };
        }
    }

    private static WoodFisherInverse Build(IGradientSource source, WoodFisherOptions opts, int chunkRows)
    {
        // Knowing the row count lets rank-1/rank-k stream with N fixed up front instead of buffering every row.
        using var builder = new WoodFisherBuilder(source.Dimension, opts, source.Count >= 0 ? source.Count : null);
        Feed(builder, source, chunkRows);
        return builder.Build();
    }

    /// <summary>Adds every row of <paramref name="source"/> (from its start) to <paramref name="builder"/>.</summary>
    internal static void Feed(WoodFisherBuilder builder, IGradientSource source, int chunkRows = 256)
    {
        // A Dense build that forms each block's Gram from all rows at the end takes rows given as factors whole, and never
        // holds the m × d rows.
        if (builder.TakesFactors && source is IFactoredGradientSource factored && factored.Factors() is { } factors)
        {
            builder.AddFactors(factors);
            return;
        }

        var d = source.Dimension;
        // Whole panels go from this buffer straight to the backend (the builder's float64 panel is then never
        // allocated); otherwise small reads, which the builder gathers into its panel.
        var panel = source.Count > 0 ? (int)Math.Min(builder.PanelRows, source.Count) : builder.PanelRows;
        var rows = builder.StreamsWithoutCopy && panel <= chunkRows
            ? panel
            : (int)Math.Clamp(MaxChunkElements / d, 1, chunkRows);
        var buffer = new float[(long)rows * d];
        source.Reset();
        int got;
        while ((got = source.Read(buffer, rows)) > 0)
        {
            builder.Add(buffer.AsSpan(0, got * d), got);
        }
    }

    /// <inheritdoc />
    public double[] Diagonal() => Inverse.Diagonal();

    /// <inheritdoc />
    public double[] Multiply(ReadOnlySpan<double> v) => Inverse.Multiply(v);

    /// <inheritdoc />
    public double[] SubMatrix(ReadOnlySpan<int> indices) => Inverse.SubMatrix(indices);

    /// <inheritdoc />
    public void SubMatrices(IReadOnlyList<int[]> parts, Action<int, double[]> use) => Inverse.SubMatrices(parts, use);

    /// <inheritdoc />
    public void ObsUpdate(Span<double> weights, ReadOnlySpan<bool> mask) => Inverse.ObsUpdate(weights, mask);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_owns)
        {
            Inverse.Dispose();
        }
    }
}
