namespace WoodFisher.Pruning.Internal;

/// <summary>
/// The k-th smallest score of a set of candidates in O(n), without sorting: radix selection on the scores' 64-bit
/// order-preserving keys, 16 bits a round (four histogram passes over the candidates, in parallel for large n).
/// </summary>
internal static class ScoreSelection
{
    private const int Bits = 16;
    private const int Bins = 1 << Bits;
    private const int ParallelCandidates = 1 << 18;

    /// <summary>
    /// An order-preserving key: a &lt; b as doubles exactly when Key(a) &lt; Key(b), with −0 = +0 and −∞ lowest, the order
    /// of <see cref="double.CompareTo(double)"/> on non-NaN values.
    /// </summary>
    public static ulong Key(double x)
    {
        var bits = (ulong)BitConverter.DoubleToInt64Bits(x == 0 ? 0.0 : x);
        return (bits & 0x8000_0000_0000_0000UL) == 0 ? bits | 0x8000_0000_0000_0000UL : ~bits;
    }

    /// <summary>
    /// The key t of the <paramref name="count"/>-th smallest score among <paramref name="candidates"/> (1 ≤ count ≤ n)
    /// and how many candidates with key t the first <paramref name="count"/> in (score, index) order take.
    /// </summary>
    public static (ulong Threshold, long Ties) Select(ReadOnlySpan<double> scores, int[] candidates, long count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, candidates.Length);
        var keys = new ulong[candidates.Length];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = Key(scores[candidates[i]]);
        }

        ulong prefix = 0;
        ulong known = 0;
        var need = count;
        for (var shift = 64 - Bits; shift >= 0; shift -= Bits)
        {
            var histogram = Histogram(keys, prefix, known, shift);
            long below = 0;
            var bin = 0;
            while (below + histogram[bin] < need)
            {
                below += histogram[bin++];
            }

            need -= below;
            prefix |= (ulong)bin << shift;
            known |= (ulong)(Bins - 1) << shift;
        }

        return (prefix, need);
    }

    /// <summary>Counts of digit (key &gt;&gt; shift) mod 2¹⁶ over the keys whose bits under <paramref name="known"/> equal <paramref name="prefix"/>.</summary>
    private static long[] Histogram(ulong[] keys, ulong prefix, ulong known, int shift)
    {
        var parts = keys.Length < ParallelCandidates ? 1 : Math.Min(Environment.ProcessorCount, keys.Length / ParallelCandidates);
        var partial = new long[parts][];
        Parallel.For(0, parts, p =>
        {
            var h = new long[Bins];
            var end = (int)((long)keys.Length * (p + 1) / parts);
            for (var i = (int)((long)keys.Length * p / parts); i < end; i++)
            {
                var k = keys[i];
                if ((k & known) == prefix)
                {
                    h[(int)((k >> shift) & (Bins - 1))]++;
                }
            }

            partial[p] = h;
        });
        var histogram = partial[0];
        for (var p = 1; p < parts; p++)
        {
            for (var b = 0; b < Bins; b++)
            {
                histogram[b] += partial[p][b];
            }
        }

        return histogram;
    }
}
