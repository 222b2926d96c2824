using WoodFisher.Pruning;

namespace WoodFisher.Distributed;

/// <summary>The outcome of <see cref="DistributedSelection.Select"/> on one rank.</summary>
/// <param name="Mask">The rank's part of the new mask (true = kept).</param>
/// <param name="Collectives">Collectives the search used (the same on every rank).</param>
/// <param name="Bytes">Bytes this rank contributed to them (the payloads; what MPI adds on the wire is not counted).</param>
public sealed record DistributedSelectionResult(bool[] Mask, int Collectives, long Bytes);

/// <summary>
/// <see cref="MaskSelection.Select"/> over scores spread across ranks, without gathering them: each rank holds the
/// scores and mask of a contiguous range of coordinates (ranges in rank order tiling [0, d)), and every rank gets
/// its part of exactly the mask the single-process selection would return — the same target count round(s·n), the
/// same order (increasing score, ties to the lower index), already-pruned coordinates kept pruned and counted.
/// </summary>
/// <remarks>
/// <para>The k-th smallest score of a group (all prunable coordinates for the global threshold, one segment for
/// layer-wise selection) is found by radix selection on the scores' 64-bit order-preserving keys: eight rounds, each an
/// all-reduce of a 256-bin histogram of the next byte of the keys still in play, so the threshold is exact after at
/// most 8 × 256 × 8 = 16 KiB per group and rank; a round whose bin holds exactly the count still needed ends the
/// search early. Coordinates whose key is below the threshold are pruned; of those equal to it, the ones with the
/// lowest indices are taken: ranks hold increasing ranges, so an all-gather of each rank's tie count tells every rank
/// how many of its own ties to take.</para>
/// <para>Scores are compared as <see cref="double.CompareTo(double)"/> does (−0 = +0, −∞ lowest); NaN is refused.</para>
/// </remarks>
public static class DistributedSelection
{
    private const int Bits = 8;
    private const int Bins = 1 << Bits;

    /// <summary>This rank's part of <see cref="MaskSelection.Select"/>'s mask for the whole vector.</summary>
    /// <param name="comm">The ranks.</param>
    /// <param name="start">First coordinate this rank holds.</param>
    /// <param name="dimension">d, the whole vector's length.</param>
    /// <param name="scores">This rank's scores ρ (its length = the rank's coordinates; may be empty).</param>
    /// <param name="mask">This rank's current mask (true = kept) or empty for all kept.</param>
    /// <param name="sparsity">Target s ∈ [0, 1).</param>
    /// <param name="mode">Global threshold or the same sparsity in every segment.</param>
    /// <param name="segments">Segment lengths of the whole vector, summing to d; null = one segment.</param>
    /// <param name="prunable">Per segment, whether it may be pruned; null = all.</param>
    /// <exception cref="RankFailedException">A rank's arguments were invalid (a NaN score, a wrong length); every rank throws.</exception>
    /// <exception cref="ArgumentException">The ranks' ranges do not tile [0, d) in rank order.</exception>
    public static DistributedSelectionResult Select(ICommunicator comm, int start, int dimension, ReadOnlySpan<double> scores, ReadOnlySpan<bool> mask, double sparsity,
        SelectionMode mode = SelectionMode.Global, IReadOnlyList<int>? segments = null, IReadOnlyList<bool>? prunable = null)
    {
        ArgumentNullException.ThrowIfNull(comm);
        var s = scores.ToArray();
        var m = mask.ToArray();
        var segs = RankFailure.Agree(comm, () => Check(start, dimension, s, m, sparsity, segments, prunable));
        var traffic = new Traffic();
        CheckTiling(comm, start, s.Length, dimension, traffic);

        var result = m.Length == 0 ? Enumerable.Repeat(true, s.Length).ToArray() : m;
        var groups = mode == SelectionMode.Global ? 1 : segs.Length;
        var group = GroupOf(start, s.Length, segs, prunable, mode);

        // Per group: coordinates n, already pruned, candidates (kept), over all ranks.
        var counts = new long[3 * groups];
        var candidates = new List<int>[groups];
        for (var g = 0; g < groups; g++)
        {
            candidates[g] = [];
        }

        for (var i = 0; i < s.Length; i++)
        {
            var g = group[i];
            if (g < 0)
            {
                continue;
            }

            counts[3 * g]++;
            if (result[i])
            {
                counts[(3 * g) + 2]++;
                candidates[g].Add(i);
            }
            else
            {
                counts[(3 * g) + 1]++;
            }
        }

        traffic.AllReduce(comm, counts);
        var need = new long[groups];
        var active = new List<int>();
        for (var g = 0; g < groups; g++)
        {
            var target = MaskSelection.TargetCount(sparsity, checked((int)counts[3 * g]));
            need[g] = Math.Clamp(target - counts[(3 * g) + 1], 0, counts[(3 * g) + 2]);
            if (need[g] == counts[(3 * g) + 2])
            {
                Prune(result, candidates[g], candidates[g].Count);
            }
            else if (need[g] > 0)
            {
                active.Add(g);
            }
        }

        var keys = new ulong[s.Length];
        for (var i = 0; i < s.Length; i++)
        {
            keys[i] = Key(s[i]);
        }

        for (var shift = 64 - Bits; shift >= 0 && active.Count > 0; shift -= Bits)
        {
            var histogram = new long[active.Count * Bins];
            for (var a = 0; a < active.Count; a++)
            {
                foreach (var i in candidates[active[a]])
                {
                    histogram[(a * Bins) + (int)((keys[i] >> shift) & (Bins - 1))]++;
                }
            }

            traffic.AllReduce(comm, histogram);
            var still = new List<int>();
            for (var a = 0; a < active.Count; a++)
            {
                var g = active[a];
                var (bin, below) = Locate(histogram.AsSpan(a * Bins, Bins), need[g]);
                var inBin = new List<int>();
                var prunedNow = new List<int>();
                foreach (var i in candidates[g])
                {
                    var b = (int)((keys[i] >> shift) & (Bins - 1));
                    if (b < bin)
                    {
                        prunedNow.Add(i);
                    }
                    else if (b == bin)
                    {
                        inBin.Add(i);
                    }
                }

                Prune(result, prunedNow, prunedNow.Count);
                need[g] -= below;
                if (need[g] == histogram[(a * Bins) + bin])
                {
                    Prune(result, inBin, inBin.Count);
                }
                else
                {
                    candidates[g] = inBin;
                    still.Add(g);
                }
            }

            active = still;
        }

        // The groups still active after the last byte: every remaining candidate's key equals the threshold.
        if (active.Count > 0)
        {
            var ties = new long[active.Count];
            for (var a = 0; a < active.Count; a++)
            {
                ties[a] = candidates[active[a]].Count;
            }

            var all = traffic.AllGather(comm, ties);
            for (var a = 0; a < active.Count; a++)
            {
                long before = 0;
                for (var r = 0; r < comm.Rank; r++)
                {
                    before += all[(r * active.Count) + a];
                }

                var take = (int)Math.Clamp(need[active[a]] - before, 0, ties[a]);
                Prune(result, candidates[active[a]], take);
            }
        }

        return new DistributedSelectionResult(result, traffic.Collectives, traffic.Bytes);
    }

    /// <summary>
    /// An order-preserving 64-bit key: a &lt; b as doubles (with −0 = +0) exactly when Key(a) &lt; Key(b).
    /// </summary>
    internal static ulong Key(double x)
    {
        var bits = (ulong)BitConverter.DoubleToInt64Bits(x == 0 ? 0.0 : x);
        return (bits & 0x8000_0000_0000_0000UL) == 0 ? bits | 0x8000_0000_0000_0000UL : ~bits;
    }

    /// <summary>The bin holding the <paramref name="need"/>-th smallest key (1-based) and how many keys lie in lower bins.</summary>
    private static (int Bin, long Below) Locate(ReadOnlySpan<long> histogram, long need)
    {
        long below = 0;
        for (var b = 0; b < Bins; b++)
        {
            if (below + histogram[b] >= need)
            {
                return (b, below);
            }

            below += histogram[b];
        }

        throw new InvalidOperationException($"The histogram holds {below} keys, fewer than the {need} to select: the ranks disagree about the candidates.");
    }

    private static void Prune(bool[] mask, List<int> positions, int count)
    {
        for (var k = 0; k < count; k++)
        {
            mask[positions[k]] = false;
        }
    }

    /// <summary>Per local coordinate, its selection group (−1 = not prunable).</summary>
    private static int[] GroupOf(int start, int length, int[] segments, IReadOnlyList<bool>? prunable, SelectionMode mode)
    {
        var group = new int[length];
        var segStart = 0;
        for (var s = 0; s < segments.Length; s++)
        {
            var lo = Math.Max(segStart, start);
            var hi = Math.Min(segStart + segments[s], start + length);
            var g = prunable is not null && !prunable[s] ? -1 : mode == SelectionMode.Global ? 0 : s;
            for (var i = lo; i < hi; i++)
            {
                group[i - start] = g;
            }

            segStart += segments[s];
        }

        return group;
    }

    private static int[] Check(int start, int dimension, double[] scores, bool[] mask, double sparsity, IReadOnlyList<int>? segments, IReadOnlyList<bool>? prunable)
    {
        MaskSelection.CheckSparsity(sparsity);
        if (start < 0 || start > dimension - scores.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"Coordinates [{start}, {(long)start + scores.Length}) do not lie in [0, {dimension}).");
        }

        if (mask.Length != 0 && mask.Length != scores.Length)
        {
            throw new ArgumentException($"The rank's mask has length {mask.Length}, but it holds {scores.Length} scores.", nameof(mask));
        }

        for (var i = 0; i < scores.Length; i++)
        {
            if (double.IsNaN(scores[i]))
            {
                throw new ArgumentException($"Score {start + i} is NaN; check the curvature estimate (a non-positive [H⁻¹]_qq?).", nameof(scores));
            }
        }

        return MaskSelection.CheckSegments(segments, dimension, prunable);
    }

    /// <summary>The ranks' ranges must be [start_r, start_r + length_r) back to back in rank order from 0 to d.</summary>
    private static void CheckTiling(ICommunicator comm, int start, int length, int dimension, Traffic traffic)
    {
        var all = traffic.AllGather(comm, [start, length]);
        long next = 0;
        for (var r = 0; r < comm.Size; r++)
        {
            if (all[2 * r] != next)
            {
                throw new ArgumentException($"Rank {r} holds coordinates from {all[2 * r]}, but rank {r - 1} ends at {next}: ranks must hold contiguous ranges in rank order.");
            }

            next += all[(2 * r) + 1];
        }

        if (next != dimension)
        {
            throw new ArgumentException($"The ranks hold {next} coordinates in all, but d = {dimension}.");
        }
    }

    /// <summary>Counts the collectives and the bytes this rank contributes to them.</summary>
    private sealed class Traffic
    {
        public int Collectives { get; private set; }

        public long Bytes { get; private set; }

        public void AllReduce(ICommunicator comm, long[] values)
        {
            comm.AllReduce(values, ReduceOperation.Sum);
            Collectives++;
            Bytes += values.Length * sizeof(long);
        }

        public long[] AllGather(ICommunicator comm, long[] values)
        {
            Collectives++;
            Bytes += values.Length * sizeof(long);
            return comm.AllGather<long>(values);
        }
    }
}
