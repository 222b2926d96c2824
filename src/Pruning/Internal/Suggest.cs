namespace WoodFisher.Pruning.Internal;

/// <summary>"Did you mean": the known word nearest to a misspelt one, for error messages.</summary>
internal static class Suggest
{
    /// <summary>
    /// The candidate within edit distance ⌈len/3⌉ (at least 1, at most 3) of <paramref name="word"/>, or one that starts
    /// with it or it starts with; null when none is close.
    /// </summary>
    public static string? Nearest(string word, IEnumerable<string> candidates)
    {
        ArgumentNullException.ThrowIfNull(word);
        ArgumentNullException.ThrowIfNull(candidates);
        var limit = Math.Clamp((word.Length + 2) / 3, 1, 3);
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var c in candidates)
        {
            var d = Distance(word, c);
            if (d < bestDistance)
            {
                best = c;
                bestDistance = d;
            }
        }

        if (best is not null && bestDistance <= limit)
        {
            return best;
        }

        return word.Length >= 3 ? candidates.FirstOrDefault(c => c.StartsWith(word, StringComparison.Ordinal) || word.StartsWith(c, StringComparison.Ordinal)) : null;
    }

    /// <summary>Levenshtein distance (insertions, deletions, substitutions; an adjacent swap counts one).</summary>
    public static int Distance(string a, string b)
    {
        var prev2 = new int[b.Length + 1];
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            prev[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                cur[j] = Math.Min(Math.Min(prev[j] + 1, cur[j - 1] + 1), prev[j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    cur[j] = Math.Min(cur[j], prev2[j - 2] + 1);
                }
            }

            (prev2, prev, cur) = (prev, cur, prev2);
        }

        return prev[b.Length];
    }
}
