namespace WoodFisher.Kernels;

/// <summary>The Dense strategy's rows given as factors (<see cref="IGradientRowFactors"/>), multiplied out a block at a time.</summary>
internal sealed partial class DenseStrategy
{
    /// <summary>True while the rows may still come as factors (<see cref="UseFactors"/>): float32 and none added yet.</summary>
    public bool TakesFactors => _precision == Precision.Float32 && _rows is null && _gram is null && _factors is null;

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
    /// Rows multiplied out from factors are checked as added rows are (a product may overflow float32), through the Gram's
    /// diagonal Σₙ xₙⱼ², which is finite when every entry of the block is: only a non-finite diagonal sends the m × c
    /// block to be searched. A diagonal that overflowed from finite entries is left to the inverse, as for added rows.
    /// </summary>
    private static void RequireFinite(ReadOnlySpan<float> block, ReadOnlySpan<double> gram, int c, long offset)
    {
        for (var j = 0; j < c; j++)
        {
            if (!double.IsFinite(gram[(j * c) + j]))
            {
                var at = FirstNonFinite(block);
                if (at >= 0)
                {
                    throw new NonFiniteGradientException(at / c, (int)(offset + (at % c)), block[at]);
                }

                return;
            }
        }
    }

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
