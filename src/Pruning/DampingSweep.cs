using WoodFisher.Kernels;
using WoodFisher.Models;
using WoodFisher.Pruning.Methods;

namespace WoodFisher.Pruning;

/// <summary>
/// The WoodFisher inverse at every λ of a damping search from one pass over the gradient rows: the block Gram matrices
/// GᵀG are the same for every λ, so they are formed once (the builder's Dense strategy) and only the Cholesky inverse of
/// λI + GᵀG/N is redone per λ (<see cref="WoodFisherBuilder.BuildAt"/>). Used by the model-mode search when its rows are
/// held in memory and the strategy is automatic (a strategy given explicitly is honoured: each λ is rebuilt with it).
/// </summary>
internal sealed class DampingSweep : IDisposable
{
    private readonly WoodFisherBuilder _builder;
    private readonly ICurvatureBackend _backend;

    private DampingSweep(WoodFisherBuilder builder, ICurvatureBackend backend) => (_builder, _backend) = (builder, backend);

    /// <summary>
    /// The sweep over <paramref name="rows"/> (already averaged per mini-batch, N = their count) for a WoodFisher-family
    /// <paramref name="spec"/> with blocks (not <c>block=full</c>) and the strategy automatic, when the Gram matrices fit half the
    /// <see cref="MemoryBudget"/>; otherwise null (each λ is then rebuilt from the rows).
    /// </summary>
    public static DampingSweep? TryCreate(IGradientSource rows, EstimatorSpec spec)
    {
        if (spec.Method is not WoodFisherMethod || spec.BlockSize == EstimatorSpec.FullBlockSize || rows.Count < 1
            || spec.Strategy != WoodburyStrategy.Auto)
        {
            return null;
        }

        var options = WoodFisherMethod.Options(spec with { MiniBatch = 1 }, rows.Dimension, rows.Segments) with { Strategy = WoodburyStrategy.Dense };
        if (!MemoryBudget.Fits(WoodFisherBuilder.EstimateBytes(rows.Dimension, options, rows.Count), 0.5))
        {
            return null;
        }

        // Each λ's inverse is disposed before the next is built, which then takes its blocks: fresh blocks every λ would
        // be zeroed page by page by the kernel (about 40% of a sweep's time on the MLP's 666 blocks).
        var backend = Backends.Create(options.Backend);
        if (backend is CpuBackend cpu)
        {
            cpu.RecycleBlocks = true;
        }

        WoodFisherBuilder? builder = null;
        try
        {
            builder = new WoodFisherBuilder(rows.Dimension, options, rows.Count, backend);
            WoodFisherCurvature.Feed(builder, rows);
            return new DampingSweep(builder, backend);
        }
        catch
        {
            builder?.Dispose();
            backend.Dispose();
            throw;
        }
    }

    /// <summary>The inverse at λ = <paramref name="damping"/> (disposed by the caller, before this sweep).</summary>
    /// <exception cref="BlockNotPositiveDefiniteException">A block lost positive definiteness in its storage precision.</exception>
    public WoodFisherCurvature Build(double damping) => new(_builder.BuildAt(damping), ownsInverse: true);

    /// <inheritdoc />
    public void Dispose()
    {
        _builder.Dispose();
        _backend.Dispose();
    }
}

/// <summary>
/// A <see cref="DampingSweep"/> made on first use by a sample that searches λ (null when the sweep does not apply), and
/// the candidate it gives.
/// </summary>
internal sealed class LazyDampingSweep(Func<DampingSweep?> make) : IDisposable
{
    private DampingSweep? _sweep;
    private bool _tried;

    /// <summary>
    /// The inverse at λ = <paramref name="damping"/> from the sweep, or null when there is none or a block lost definiteness
    /// in float32 storage (the caller then rebuilds, which falls back to float64).
    /// </summary>
    public CurvatureEstimate? TryBuild(double damping, double[]? gradient)
    {
        if (!_tried)
        {
            _tried = true;
            _sweep = make();
        }

        if (_sweep is null)
        {
            return null;
        }

        try
        {
            return new CurvatureEstimate(_sweep.Build(damping)) { Gradient = gradient };
        }
        catch (BlockNotPositiveDefiniteException)
        {
            return null;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _sweep?.Dispose();
        _sweep = null;
    }
}
