namespace WoodFisher.Kernels;

/// <summary>The builder's rows given as factors (<see cref="IGradientRowFactors"/>) instead of entries.</summary>
public sealed partial class WoodFisherBuilder
{
    /// <summary>
    /// True when all rows may be given at once as factors (<see cref="AddFactors"/>): the Dense strategy in float32, no
    /// mini-batch averaging, and no row added yet.
    /// </summary>
    public bool TakesFactors => !_finished && _options.MiniBatch == 1 && _dense is { TakesFactors: true } && _intake.RawRows == 0;

    /// <summary>
    /// Adds every row at once as factors instead of through <see cref="Add(ReadOnlySpan{float}, int)"/>: the rows are
    /// never materialised as m × d entries, only a block at a time when its Gram is formed from all m of them, so the
    /// inverse is the one the rows give when kept whole (m known and m·d·4 bytes within twice the Gram's), bit for bit.
    /// Only when <see cref="TakesFactors"/>; m must be the expected row count when one was given.
    /// A product that overflows float32 raises <see cref="NonFiniteGradientException"/> from <see cref="Build"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The builder does not take factors, or their shape differs from d × m.</exception>
    public void AddFactors(IGradientRowFactors factors)
    {
        ArgumentNullException.ThrowIfNull(factors);
        ObjectDisposedException.ThrowIf(_finished, this);
        if (!TakesFactors || (_expectedRows is { } m && m != factors.Rows))
        {
            throw new InvalidOperationException($"Only a float32 Dense build without mini-batches and with no rows added takes factors, of the m rows it expects ({_expectedRows?.ToString() ?? "any"}); this one uses {Strategy} and was given {factors.Rows}.");
        }

        _dense!.UseFactors(factors);
        _intake.CountFactored(factors.Rows);
    }
}
