namespace WoodFisher.Kernels;

/// <summary>The builder's inverse at several λ from one pass over the rows (a damping search).</summary>
public sealed partial class WoodFisherBuilder
{
    /// <summary>The rows' factors a sweep's Gram matrices were formed from (null when the rows came otherwise).</summary>
    private IGradientRowFactors? _sweptFactors;

    /// <summary>
    /// The inverse at λ = <paramref name="damping"/> (instead of the options' λ), keeping the Dense strategy's Gram
    /// matrices so that it can be called again at another λ: a damping search pays for GᵀG once and for one Cholesky
    /// inverse per λ. Dense strategy only (<see cref="WoodFisherOptions.Strategy"/>); no rows may be added after the first
    /// call. The inverses run on this builder's backend without owning it: dispose them before the builder.
    /// </summary>
    /// <exception cref="InvalidOperationException">The strategy is not Dense, no rows were added, or the row count differs from <c>expectedRows</c>.</exception>
    /// <exception cref="BlockNotPositiveDefiniteException">A block lost positive definiteness.</exception>
    public WoodFisherInverse BuildAt(double damping)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        if (Strategy != WoodburyStrategy.Dense || _dense is null)
        {
            throw new InvalidOperationException($"Only the Dense strategy keeps its Gram matrices across λ; this builder uses {Strategy}.");
        }

        if (!(damping > 0) || !double.IsFinite(damping))
        {
            throw new ArgumentOutOfRangeException(nameof(damping), damping, "The damping must be positive and finite.");
        }

        var (entered, normalizer) = FlushRows();

        // The first call forms the Gram matrices and drops the factors they came from; every λ's inverse keeps them, so
        // that its joint update takes the kept-set step where few coordinates of a block are kept, as a fresh build's does.
        _sweptFactors ??= _dense.Factors;
        var inverse = new WoodFisherInverse(_backend, _dense.InvertKeeping(_backend, damping, normalizer), ownsBackend: false)
        {
            Damping = damping,
            Normalizer = normalizer,
            SampleCount = entered,
            Strategy = Strategy,
            Rows = _sweptFactors,
        };
        try
        {
            RequirePositiveDiagonal(inverse.Storage);
        }
        catch
        {
            inverse.Dispose();
            throw;
        }

        return inverse;
    }
}
