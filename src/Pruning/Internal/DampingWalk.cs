namespace WoodFisher.Pruning.Internal;

/// <summary>
/// Which λ of an ascending grid a damping search evaluates (<see cref="PrunerOptions.WholeDampingGrid"/> off): a walk
/// downhill from the middle of the grid (to the lower neighbour while one is lower), then the largest λ, walking
/// downhill from it too when it beats the best so far (at high sparsity the criterion can have a second basin at the
/// most damped end: the shortest compensation), and, under the one-standard-error rule, the larger λ past the best while
/// they stay within one standard error of it. On a criterion with one basin this finds the grid's minimum with about
/// half the evaluations.
/// </summary>
internal static class DampingWalk
{
    /// <summary>
    /// The indices evaluated, ascending; <paramref name="evaluate"/> is called once per index. All of them when
    /// <paramref name="whole"/> or when there are at most three.
    /// </summary>
    public static int[] Indices(int count, Func<int, CriterionValue> evaluate, bool oneStandardError, bool whole = false)
    {
        if (whole || count <= 3)
        {
            var all = Enumerable.Range(0, count).ToArray();
            foreach (var i in all)
            {
                evaluate(i);
            }

            return all;
        }

        var values = new Dictionary<int, CriterionValue>();
        double Value(int i)
        {
            if (!values.TryGetValue(i, out var v))
            {
                v = evaluate(i);
                values[i] = v;
            }

            return double.IsNaN(v.Value) ? double.PositiveInfinity : v.Value;
        }

        int Descend(int i)
        {
            while (true)
            {
                var next = i;
                foreach (var j in (ReadOnlySpan<int>)[i - 1, i + 1])
                {
                    if (j >= 0 && j < count && Value(j) < Value(next))
                    {
                        next = j;
                    }
                }

                if (next == i)
                {
                    return i;
                }

                i = next;
            }
        }

        var best = Descend(count / 2);
        if (Value(count - 1) < Value(best))
        {
            best = Descend(count - 1);
        }

        if (oneStandardError)
        {
            var bound = Value(best) + values[best].StandardError;
            for (var i = best + 1; i < count && Value(i) <= bound; i++)
            {
            }
        }

        return [.. values.Keys.Order()];
    }
}
