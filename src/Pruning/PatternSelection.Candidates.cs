namespace WoodFisher.Pruning;

/// <summary>The candidate groups of a pattern and their OBS costs.</summary>
public static partial class PatternSelection
{
    /// <summary>N:M groups whose sub-matrices are held for one search over the cores.</summary>
    private const int SearchBatch = 4096;

    private sealed record Candidate(int Matrix, int[] Group, int[] Prune, double Cost);

    /// <summary>
    /// Every candidate group with its cost. The groups come first, then the sub-matrices of all their parts (a part: a
    /// group's coordinates inside one block) in one request, which an estimate that rebuilds its blocks serves in one pass.
    /// Each group is costed as its sub-matrices arrive (an N:M group by its subset search, tiles and units whole), and none
    /// is kept.
    /// </summary>
    private static List<Candidate> Candidates(PruningPattern p, PatternLayout layout, ReadOnlySpan<double> w, IInverseCurvature inverse, bool[] mask)
    {
        var groups = Groups(p, layout, mask);
        var parts = new List<int[]>();
        var firstPart = new int[groups.Count + 1];
        for (var g = 0; g < groups.Count; g++)
        {
            var group = groups[g].Group;
            foreach (var (start, count) in GroupCurvature.Split(inverse.Layout, group))
                parts.Add(group[start..(start + count)]);
            firstPart[g + 1] = parts.Count;
        }

        var weights = w.ToArray();
        var list = new List<Candidate>();
        if (p.Kind == PatternKind.NofM)
        {
            // Searched over the cores in batches as the sub-matrices arrive; a group split across blocks waits for its other
            // parts (a few groups per block boundary), so the sub-matrices held stay a batch's, not d's.
            var groupOf = new int[parts.Count];
            for (var g = 0; g < groups.Count; g++)
                groupOf.AsSpan(firstPart[g], firstPart[g + 1] - firstPart[g]).Fill(g);
            var waiting = new Dictionary<int, double[]?[]>();
            var found = new Candidate?[groups.Count];
            var ready = new List<(int Group, double[][] Subs)>();
            void Search()
            {
                Parallel.For(0, ready.Count, j =>
                {
                    var (g, subs) = ready[j];
                    var (matrix, group) = groups[g];
                    found[g] = BestSubset(matrix, group, p.A, weights, new GroupCurvature(inverse.Layout, group, subs), mask);
                });
                ready.Clear();
            }

            inverse.SubMatrices(parts, (i, sub) =>
            {
                var g = groupOf[i];
                double[][] subs = [sub];
                if (firstPart[g + 1] - firstPart[g] > 1)
                {
                    if (!waiting.TryGetValue(g, out var have))
                        waiting[g] = have = new double[firstPart[g + 1] - firstPart[g]][];
                    have[i - firstPart[g]] = sub;
                    if (Array.IndexOf(have, null) >= 0)
                        return;
                    waiting.Remove(g);
                    subs = Array.ConvertAll(have, x => x!);
                }

                ready.Add((g, subs));
                if (ready.Count == SearchBatch)
                    Search();
            });
            Search();
            list.AddRange(found.OfType<Candidate>());
            return list;
        }

        var partCost = new double[parts.Count];
        inverse.SubMatrices(parts, (i, sub) =>
        {
            var wq = new double[parts[i].Length];
            for (var a = 0; a < wq.Length; a++)
                wq[a] = weights[parts[i][a]];
            partCost[i] = GroupCurvature.SolvedCost(inverse.Layout, parts[i][0], sub, wq);
        });
        for (var g = 0; g < groups.Count; g++)
        {
            var (matrix, group) = groups[g];
            var prune = group.Where(i => mask[i]).ToArray();
            double cost = 0;
            for (var i = firstPart[g]; i < firstPart[g + 1]; i++)
                cost += partCost[i];
            list.Add(new Candidate(matrix, group, prune, p.Kind == PatternKind.Block ? cost / prune.Length : cost));
        }

        return list;
    }

    /// <summary>
    /// The candidate groups (global indices, ascending) by matrix: N:M groups with more than N kept weights, tiles and units
    /// with any (units of every layer but the classifier, with their bias when it is a coordinate).
    /// </summary>
    private static List<(int Matrix, int[] Group)> Groups(PruningPattern p, PatternLayout layout, bool[] mask)
    {
        var list = new List<(int, int[])>();
        var last = layout.Matrices.Count - 1;
        for (var k = 0; k < layout.Matrices.Count; k++)
        {
            var m = layout.Matrices[k];
            switch (p.Kind)
            {
                case PatternKind.NofM:
                    for (var r = 0; r < m.Rows; r++)
                    {
                        for (var g = 0; g < m.Columns; g += p.B)
                        {
                            var group = Enumerable.Range(m.Offset + (r * m.Columns) + g, Math.Min(p.B, m.Columns - g)).ToArray();
                            if (group.Count(i => mask[i]) > p.A)
                                list.Add((k, group));
                        }
                    }
                    break;
                case PatternKind.Block:
                    for (var r = 0; r < m.Rows; r += p.A)
                    {
                        for (var j = 0; j < m.Columns; j += p.B)
                        {
                            var tile = new List<int>();
                            for (var i = r; i < Math.Min(m.Rows, r + p.A); i++)
                                tile.AddRange(Enumerable.Range(m.Offset + (i * m.Columns) + j, Math.Min(p.B, m.Columns - j)));
                            if (tile.Any(i => mask[i]))
                                list.Add((k, [.. tile]));
                        }
                    }
                    break;
                default:
                    if (k == last)
                        break;
                    for (var r = 0; r < m.Rows; r++)
                    {
                        int[] unit = [.. Enumerable.Range(m.Offset + (r * m.Columns), m.Columns), .. m.BiasOffset >= 0 ? [m.BiasOffset + r] : Array.Empty<int>()];
                        if (unit.Any(i => mask[i]))
                            list.Add((k, unit));
                    }
                    break;
            }
        }

        return list;
    }

    /// <summary>The cheapest way to leave at most N kept weights in the group, or null when it already does.</summary>
    private static Candidate? BestSubset(int matrix, int[] group, int n, double[] w, GroupCurvature curvature, bool[] mask)
    {
        var open = new List<int>();
        for (var a = 0; a < group.Length; a++)
        {
            if (mask[group[a]])
                open.Add(a);
        }

        var need = open.Count - n;
        if (need <= 0)
            return null;
        var inS = new bool[group.Length];
        for (var a = 0; a < group.Length; a++)
            inS[a] = !mask[group[a]];
        int[] best;
        double bestCost;
        if (Binomial(open.Count, need) <= ExactSubsets)
        {
            (best, bestCost) = ([], double.PositiveInfinity);
            foreach (var subset in Subsets(open.Count, need))
            {
                foreach (var s in subset)
                    inS[open[s]] = true;
                var cost = curvature.Cost(w, inS);
                if (cost < bestCost)
                    (best, bestCost) = ([.. subset.Select(s => open[s])], cost);
                foreach (var s in subset)
                    inS[open[s]] = false;
            }
        }
        else
        {
            var chosen = new List<int>();
            bestCost = 0;
            for (var step = 0; step < need; step++)
            {
                var (pick, pickCost) = (-1, double.PositiveInfinity);
                foreach (var a in open.Where(a => !inS[a]))
                {
                    inS[a] = true;
                    var cost = curvature.Cost(w, inS);
                    inS[a] = false;
                    if (cost < pickCost)
                        (pick, pickCost) = (a, cost);
                }

                inS[pick] = true;
                chosen.Add(pick);
                bestCost = pickCost;
            }

            best = [.. chosen];
        }

        return new Candidate(matrix, group, [.. best.Select(a => group[a])], bestCost / need);
    }

    private static long Binomial(int n, int k)
    {
        long r = 1;
        for (var i = 1; i <= k; i++)
        {
            r = r * (n - k + i) / i;
            if (r > ExactSubsets)
                return r;
        }

        return r;
    }

    /// <summary>Every k-subset of {0, …, n − 1}, in lexicographic order.</summary>
    private static IEnumerable<int[]> Subsets(int n, int k)
    {
        var s = Enumerable.Range(0, k).ToArray();
        while (true)
        {
            yield return s;
            var i = k - 1;
            while (i >= 0 && s[i] == n - k + i)
                i--;
            if (i < 0)
                yield break;
            s[i]++;
            for (var j = i + 1; j < k; j++)
                s[j] = s[j - 1] + 1;
        }
    }
}
