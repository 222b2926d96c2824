using System.Runtime.CompilerServices;

namespace WoodFisher.Kernels;

/// <summary>The Dense strategy's rows given as factors (<see cref="IGradientRowFactors"/>), multiplied out a block at a time.</summary>
internal sealed partial class DenseStrategy
{
    /// <summary>True while the rows may still come as factors (<see cref="UseFactors"/>): float32 and none added yet.</summary>
    public bool TakesFactors => _precision == Precision.Float32 && _rows is null && _gram is null && _factors is null;

    /// <summary>The factors the blocks are formed from, when <see cref="UseFactors"/> was called.</summary>
    public IGradientRowFactors? Factors => _factors;

    /// <summary>
    /// Takes all rows as factors instead of through <see cref="Accumulate{TSrc}"/>: at <see cref="Finish"/> each block's
    /// rows are multiplied out into an m × c scratch, just before its Gram is formed from all of them by the SYRK kept rows
    /// get (so the blocks are those of the rows kept, bit for bit, whatever m is).
    /// </summary>
    public void UseFactors(IGradientRowFactors factors)
    {
        if (!TakesFactors || (_rowCapacity > 0 && factors.Rows != _rowCapacity) || factors.Dimension != _layout.Dimension)
        {
            throw new InvalidOperationException($"The Dense strategy takes float32 factors of {(_rowCapacity > 0 ? _rowCapacity : "m")} rows × {_layout.Dimension} once, before any row.");
        }

        _factors = factors;
        _rowCapacity = factors.Rows;
        _held = factors.Rows;
    }

    /// <summary>
    /// Block <paramref name="b"/>'s Gram from all kept rows (or factors) into <paramref name="a"/> (c × c, lower triangle),
    /// the block's kept rows compacted in place first. With <paramref name="allowFew"/>, a block with at most
    /// <see cref="FewRowsMax"/> rows that count gets no Gram: its rows are returned instead (held in
    /// <paramref name="scratch"/> when they come from factors).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private FewRows? FormGram(int b, Span<double> a, float[] scratch, bool allowFew)
    {
        var layout = _layout;
        var c = layout.Size(b);
        var parallel = layout.Count < Environment.ProcessorCount;
        a.Clear();
        if (_factors is not null)
        {
            return GramFromFactors(b, a, parallel, scratch, allowFew);
        }

        // The rows that are ±0 in the block add nothing: they leave, so each float32 panel sums MixedPanel rows that count
        // (the panels GramFromFactors fills). The block's rows are not read again.
        var rows = _rows ?? throw new InvalidOperationException("No rows were added to the Dense strategy.");
        var start = (int)(_rowCapacity * layout.Offset(b));
        var block = rows.AsSpan(start, _held * c);
        var kept = GradientRows.DropZeroRows(block, _held, c);
        if (allowFew && kept <= FewRowsMax(c))
        {
            return new FewRows(rows, start, kept);
        }

        LinearAlgebra.SymmetricRankKMixed(true, c, kept, block[..(kept * c)], c, a, c, parallel);
        return null;
    }

    /// <summary>Bytes each core's factor scratch takes for a block of c coordinates (none when the rows are kept).</summary>
    private int FactorScratchLength(int c) => _factors is null ? 0 : (int)FactorScratchRows(_held) * c;

    /// <summary>Source rows multiplied out per call while a SYRK panel of a block's non-zero rows fills.</summary>
    internal const int GatherWindow = 64;

    /// <summary>
    /// Rows of the scratch each core multiplies a block out into from factors of m = <paramref name="rows"/> rows: one SYRK
    /// panel (<see cref="LinearAlgebra.MixedPanel"/> rows) and the gather window that may overflow it.
    /// </summary>
    internal static long FactorScratchRows(long rows) => Math.Min(rows, LinearAlgebra.MixedPanel) + Math.Min(rows, GatherWindow);

    /// <summary>
    /// Block <paramref name="b"/>'s Gram from the factors into <paramref name="a"/> (cleared, c × c, lower triangle): the
    /// rows that are not ±0 in the block (<see cref="IGradientRowFactors.GatherNonZero"/>) multiplied out
    /// <see cref="GatherWindow"/> source rows at a time until they fill a whole SYRK panel (<see cref="LinearAlgebra.MixedPanel"/>
    /// rows), so the c-wide panel and the float64 Gram stay in cache together and each float32 product runs over a full
    /// panel. The panels are those the SYRK cuts the block's non-zero rows into when they are kept (<see cref="FormGram"/>),
    /// so the Gram is the kept rows' bit for bit.
    /// </summary>
    /// <remarks>
    /// With <paramref name="allowFew"/>, a block whose rows that count all fit <see cref="FewRowsMax"/> gets no Gram: they
    /// are returned, held in <paramref name="rows"/>, for the Woodbury form (<see cref="TryInvertFewRows"/>).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private FewRows? GramFromFactors(int b, Span<double> a, bool parallel, float[] rows, bool allowFew)
    {
        var factors = _factors!;
        var c = _layout.Size(b);
        var offset = _layout.Offset(b);
        var panel = Math.Min(_held, LinearAlgebra.MixedPanel);
        var window = Math.Min(_held, GatherWindow);
        var filled = 0;
        var full = false;
        for (var r0 = 0; r0 < _held; r0 += window)
        {
            var n = Math.Min(window, _held - r0);
            filled += factors.GatherNonZero(r0, n, offset, c, rows.AsSpan(filled * c, n * c));
            if (filled >= panel)
            {
                LinearAlgebra.SymmetricRankKMixed(true, c, panel, rows.AsSpan(0, panel * c), c, a, c, parallel);
                filled -= panel;
                rows.AsSpan(panel * c, filled * c).CopyTo(rows);
                full = true;
            }
        }

        if (allowFew && !full && filled <= FewRowsMax(c) && RowsFinite(rows.AsSpan(0, filled * c)))
        {
            return new FewRows(rows, 0, filled);
        }

        if (filled > 0)
        {
            LinearAlgebra.SymmetricRankKMixed(true, c, filled, rows.AsSpan(0, filled * c), c, a, c, parallel);
        }

        for (var j = 0; j < c; j++)
        {
            if (!double.IsFinite(a[(j * c) + j]))
            {
                ThrowIfNotFinite(factors, rows.AsSpan(0, panel * c), panel, offset, c);
                return null;
            }
        }

        return null;
    }

    /// <summary>
    /// Rows multiplied out from factors are checked as added rows are (a product may overflow float32), through the Gram's
    /// diagonal Σₙ xₙⱼ², which is finite when every entry of the block is: only a non-finite diagonal sends the block's
    /// rows to be searched, a panel at a time. A diagonal that overflowed from finite entries is left to the inverse, as
    /// for added rows.
    /// </summary>
    private void ThrowIfNotFinite(IGradientRowFactors factors, Span<float> scratch, int panel, long offset, int c)
    {
        for (var r0 = 0; r0 < _held; r0 += panel)
        {
            var rows = Math.Min(panel, _held - r0);
            var block = scratch[..(rows * c)];
            factors.Gather(r0, rows, offset, c, block);
            var at = FirstNonFinite(block);
            if (at >= 0)
            {
                throw new NonFiniteGradientException(r0 + (at / c), (int)(offset + (at % c)), block[at]);
            }
        }
    }

    /// <summary>True when every entry is finite (few rows skip the Gram whose diagonal would show it).</summary>
    private static bool RowsFinite(ReadOnlySpan<float> rows) => FirstNonFinite(rows) < 0;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int FirstNonFinite(ReadOnlySpan<float> block)
    {
        for (var i = 0; i < block.Length; i++)
        {
            if (!float.IsFinite(block[i]))
            {
                return i;
            }
        }

        return -1;
    }
}
