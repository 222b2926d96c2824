using System.Diagnostics;
using WoodFisher.Kernels;
using WoodFisher.Models;

namespace WoodFisher.Pruning;

/// <summary>
/// The block-diagonal WoodFisher inverse (the same blocks as <see cref="WoodFisherCurvature"/>) built group of blocks by
/// group of blocks as a <see cref="PassPlan"/> says, each group from the slab of G's columns it covers
/// (<see cref="ColumnSlabReader"/>: reading overlaps the build). In memory the groups stay resident; in two passes each
/// group is built, its diagonal kept, and dropped, and the queries that need the blocks themselves
/// (<see cref="ObsUpdate"/>, <see cref="Multiply"/>, <see cref="SubMatrix"/>) rebuild the groups they touch from G, one at a
/// time. Either way the answers are the same, bit for bit: a group's blocks depend only on its columns of G.
/// </summary>
/// <remarks>
/// Every group is built with all m rows known up front (N = m after mini-batch averaging, the plan's strategy), on one
/// backend. A float32 group that loses positive definiteness is rebuilt in float64 (<see cref="PrecisionFallback"/>),
/// and so is its rebuild in the second pass.
/// </remarks>
public sealed partial class GroupedWoodFisherCurvature : IInverseCurvature, IDisposable
{
    private readonly IGradientSource _source;
    private readonly WoodFisherOptions _options;
    private readonly ICurvatureBackend _backend;
    private readonly WoodFisherInverse?[] _resident;
    private readonly bool[] _float64;
    private readonly double[] _diagonal;
    private readonly IProgress<PassProgress>? _progress;
    private readonly Stopwatch _buildClock = new();
    private double _readSeconds;
    private double _waitSeconds;

    private GroupedWoodFisherCurvature(IGradientSource source, WoodFisherOptions options, PassPlan plan, IProgress<PassProgress>? progress)
    {
        _source = source;
        _options = options;
        Plan = plan;
        _progress = progress;
        _backend = Backends.Create(options.Backend);
        if (_backend is CpuBackend cpu && plan.TwoPass)
        {
            // Each group's blocks are dropped before the next is built, which then takes their memory.
            cpu.RecycleBlocks = true;
        }

        _resident = new WoodFisherInverse?[plan.Groups.Count];
        _float64 = new bool[plan.Groups.Count];
        _diagonal = new double[plan.Layout.Dimension];
    }

    /// <summary>The plan: groups, mode and working set.</summary>
    public PassPlan Plan { get; }

    /// <inheritdoc />
    public int Dimension => Plan.Layout.Dimension;

    /// <inheritdoc />
    public BlockLayout Layout => Plan.Layout;

    /// <inheritdoc />
    public string Name => $"woodfisher(c={Layout.BlockSize}, λ={_options.Damping:g3}, {_backend.Name}{(Plan.TwoPass ? $", two passes over {Plan.Groups.Count} groups" : "")}{(PrecisionFallback ? ", float64 where float32 lost definiteness" : "")})";

    /// <inheritdoc />
    public long Bytes => Plan.BlockBytes;

    /// <summary>True when some group was rebuilt in float64 because float32 lost positive definiteness.</summary>
    public bool PrecisionFallback => Array.IndexOf(_float64, true) >= 0 && _options.Precision == Precision.Float32;

    /// <summary>Passes over G made so far (1 after the build; each query of a two-pass plan that needs the blocks adds one).</summary>
    public int Passes { get; private set; }

    /// <summary>Seconds the reader thread spent reading G, over all passes.</summary>
    public double ReadSeconds => _readSeconds;

    /// <summary>Seconds the build waited for G (reading not hidden behind the work), over all passes.</summary>
    public double WaitSeconds => _waitSeconds;

    /// <summary>Seconds spent building groups (Woodbury updates and checks), over all passes.</summary>
    public double BuildSeconds => _buildClock.Elapsed.TotalSeconds;

    /// <summary>
    /// Builds every group of <paramref name="plan"/> from <paramref name="source"/> (one pass over G), keeping the
    /// diagonal, and the blocks too unless the plan has two passes.
    /// </summary>
    /// <param name="source">The rows of G (m × d, m = <see cref="PassPlan.Rows"/>); kept for the second pass, not disposed.</param>
    /// <param name="options">Damping, normalizer, mini-batch, backend and precision (block size and segments are the plan's layout's).</param>
    /// <param name="plan">The groups and the mode.</param>
    /// <param name="progress">Told after every group.</param>
    /// <exception cref="BlockNotPositiveDefiniteException">A block lost positive definiteness in float64 too (the index is the layout's).</exception>
    public static GroupedWoodFisherCurvature Build(IGradientSource source, WoodFisherOptions options, PassPlan plan, IProgress<PassProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(plan);
        if (source.Dimension != plan.Layout.Dimension || source.Count != plan.Rows)
        {
            throw new ArgumentException($"The plan is for {plan.Rows} rows × {plan.Layout.Dimension} columns, but the source has {source.Count} × {source.Dimension}.", nameof(source));
        }

        var curvature = new GroupedWoodFisherCurvature(source, options, plan, progress);
        try
        {
            curvature.Pass(AllGroups(plan), (g, inverse) =>
            {
                inverse.Diagonal().CopyTo(curvature._diagonal, plan.Groups[g].Start);
                return !plan.TwoPass;
            });
            return curvature;
        }
        catch
        {
            curvature.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public double[] Diagonal() => (double[])_diagonal.Clone();

    /// <inheritdoc />
    public void Dispose()
    {
        for (var g = 0; g < _resident.Length; g++)
        {
            _resident[g]?.Dispose();
            _resident[g] = null;
        }

        _backend.Dispose();
    }

    private static int[] AllGroups(PassPlan plan) => [.. Enumerable.Range(0, plan.Groups.Count)];

    private int GroupOf(int coordinate)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(coordinate);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(coordinate, Dimension);
        int lo = 0, hi = Plan.Groups.Count - 1;
        while (lo < hi)
        {
            var mid = (lo + hi + 1) / 2;
            if (Plan.Groups[mid].Start <= coordinate)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return lo;
    }

    /// <summary>
    /// Runs <paramref name="use"/> on the inverse of each group in <paramref name="groups"/> (ascending): the resident one,
    /// or one built from G now, which is kept when <paramref name="use"/> returns true in a one-pass plan's build and
    /// disposed otherwise.
    /// </summary>
    private void Pass(IReadOnlyList<int> groups, Func<int, WoodFisherInverse, bool> use)
    {
        var missing = new List<int>();
        foreach (var g in groups)
        {
            if (_resident[g] is null)
            {
                missing.Add(g);
            }
        }

        var pass = Passes + 1;
        var done = 0;
        var reader = missing.Count == 0 ? null : new ColumnSlabReader(_source, [.. missing.Select(g => Plan.Groups[g])], Plan.PieceRows, Plan.ChunkRows);
        try
        {
            var next = 0;
            foreach (var g in groups)
            {
                if (_resident[g] is { } resident)
                {
                    use(g, resident);
                }
                else
                {
                    var inverse = BuildGroup(g, reader!, next++);
                    var keep = false;
                    try
                    {
                        keep = use(g, inverse) && !Plan.TwoPass;
                    }
                    finally
                    {
                        if (keep)
                        {
                            _resident[g] = inverse;
                        }
                        else
                        {
                            inverse.Dispose();
                        }

                        // After a group built from rows streamed again or a dropped group (blocks a recycling backend keeps):
                        // left to itself the GC keeps dead large-object buffers well into the next groups (a two-pass
                        // ResNet-50-size prune reached 4.3 GB RSS without this collection, 2.9 GB with it).
                        if (keep ? !Plan.Seekable : inverse.Bytes >= 1L << 20)
                        {
                            GC.Collect();
                        }
                    }
                }

                _progress?.Report(new PassProgress(pass, ++done, groups.Count));
            }
        }
        finally
        {
            if (reader is not null)
            {
                _readSeconds += reader.ReadSeconds;
                _waitSeconds += reader.WaitSeconds;
                reader.Dispose();
                Passes = pass;
            }
        }
    }

    /// <summary>Builds group <paramref name="g"/> from the reader's pieces of its slab (the reader's group <paramref name="index"/>).</summary>
    private WoodFisherInverse BuildGroup(int g, ColumnSlabReader reader, int index)
    {
        var range = Plan.Groups[g];
        var precision = _float64[g] ? Precision.Float64 : _options.Precision;
        try
        {
            try
            {
                return BuildFrom(range, precision, reader, index);
            }
            catch (BlockNotPositiveDefiniteException) when (precision == Precision.Float32)
            {
                // Float32 rounding at small λ: this group again in float64, from its own slab read anew.
                _float64[g] = true;
                using var again = new ColumnSlabReader(_source, [range], Plan.PieceRows, Plan.ChunkRows);
                try
                {
                    return BuildFrom(range, Precision.Float64, again, 0);
                }
                finally
                {
                    _readSeconds += again.ReadSeconds;
                    _waitSeconds += again.WaitSeconds;
                }
            }
        }
        catch (BlockNotPositiveDefiniteException e)
        {
            throw new BlockNotPositiveDefiniteException(range.FirstBlock + e.Block, $"block {e.Block} of the group of blocks from block {range.FirstBlock}: {e.Message}");
        }
    }

    /// <summary>Feeds every piece of the reader's group <paramref name="index"/> to a builder; on failure drains the rest of the group's pieces.</summary>
    private WoodFisherInverse BuildFrom(BlockRange range, Precision precision, ColumnSlabReader reader, int index)
    {
        var options = _options with
        {
            BlockSize = Layout.BlockSize,
            Segments = range.Segments(Layout),
            Strategy = Plan.Strategy,
            Precision = precision,
        };
        var finished = false;
        SlabPiece piece = default;
        try
        {
            using var builder = new WoodFisherBuilder(range.Length, options, Plan.Rows, _backend, Plan.PanelRows);
            while (!finished)
            {
                if (!reader.Next(out piece) || piece.Group != index)
                {
                    throw new InvalidOperationException($"The slab reader ended before group [{range.Start}, {range.End}) was read.");
                }

                finished = piece.LastOfGroup;
                _buildClock.Start();
                try
                {
                    // In the whole layout's panels (pieces hold whole panels): the chunks one builder of all blocks gets.
                    for (var r = 0; r < piece.Rows; r += Plan.PanelRows)
                    {
                        var n = Math.Min(Plan.PanelRows, piece.Rows - r);
                        builder.Add(piece.Data.Span.Slice(r * range.Length, n * range.Length), n);
                    }
                }
                catch (NonFiniteGradientException e)
                {
                    var value = piece.Data.Span[(int)((e.Row - piece.FirstRow) * range.Length) + e.Column];
                    throw new NonFiniteGradientException(e.Row, range.Start + e.Column, value);
                }
                finally
                {
                    _buildClock.Stop();
                }
            }

            _buildClock.Start();
            try
            {
                return builder.Build();
            }
            finally
            {
                _buildClock.Stop();
            }
        }
        finally
        {
            while (!finished && reader.Next(out piece))
            {
                finished = piece.LastOfGroup;
            }
        }
    }
}
