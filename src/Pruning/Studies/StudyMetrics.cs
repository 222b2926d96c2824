namespace WoodFisher.Pruning.Studies;

/// <summary>
/// Scalar measures used by the approximation-quality studies: Frobenius norms of matrix differences and rank/linear
/// correlations of predicted against measured quantities. All inputs are flat arrays of equal length (matrices row-major).
/// </summary>
public static class StudyMetrics
{
    /// <summary>‖a‖_F = √(Σᵢ aᵢ²).</summary>
    public static double Frobenius(ReadOnlySpan<double> a)
    {
        double s = 0;
        foreach (var x in a)
        {
            s += x * x;
        }

        return Math.Sqrt(s);
    }

    /// <summary>
    /// Relative Frobenius error ‖a − b‖_F / ‖b‖_F of an estimate <paramref name="a"/> against a reference
    /// <paramref name="b"/> (0 = identical; 1 = as far as the zero matrix). NaN when ‖b‖_F = 0 and a ≠ b.
    /// </summary>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public static double RelativeFrobenius(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        CheckLengths(a.Length, b.Length);
        double num = 0, den = 0;
        for (var i = 0; i < a.Length; i++)
        {
            var e = a[i] - b[i];
            num += e * e;
            den += b[i] * b[i];
        }

        return num == 0 ? 0 : den == 0 ? double.NaN : Math.Sqrt(num / den);
    }

    /// <summary>
    /// Cosine similarity ⟨a, b⟩_F / (‖a‖_F‖b‖_F) ∈ [−1, 1]: 1 when a is a positive multiple of b (scale-free, unlike
    /// <see cref="RelativeFrobenius"/>). NaN when either is zero.
    /// </summary>
    public static double Cosine(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        CheckLengths(a.Length, b.Length);
        double ab = 0, aa = 0, bb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            ab += a[i] * b[i];
            aa += a[i] * a[i];
            bb += b[i] * b[i];
        }

        return aa == 0 || bb == 0 ? double.NaN : ab / Math.Sqrt(aa * bb);
    }

    /// <summary>
    /// Pearson correlation r = cov(x, y) / (σ_x σ_y) (two-pass, float64). NaN for fewer than two points or when either
    /// sample is constant.
    /// </summary>
    public static double Pearson(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        CheckLengths(x.Length, y.Length);
        var n = x.Length;
        if (n < 2)
        {
            return double.NaN;
        }

        double mx = 0, my = 0;
        for (var i = 0; i < n; i++)
        {
            mx += x[i];
            my += y[i];
        }

        mx /= n;
        my /= n;
        double sxy = 0, sxx = 0, syy = 0;
        for (var i = 0; i < n; i++)
        {
            var dx = x[i] - mx;
            var dy = y[i] - my;
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }

        return sxx == 0 || syy == 0 ? double.NaN : Math.Clamp(sxy / Math.Sqrt(sxx * syy), -1, 1);
    }

    /// <summary>
    /// Spearman rank correlation: the Pearson correlation of the ranks, ties given their average rank (so it is exact
    /// with ties, not the 1 − 6Σd²/(n(n²−1)) shortcut). NaN for fewer than two points or a constant sample.
    /// </summary>
    public static double Spearman(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        CheckLengths(x.Length, y.Length);
        return Pearson(Ranks(x), Ranks(y));
    }

    /// <summary>Ranks 1..n of <paramref name="values"/> in ascending order, tied values sharing their average rank.</summary>
    public static double[] Ranks(ReadOnlySpan<double> values)
    {
        var n = values.Length;
        var order = new int[n];
        for (var i = 0; i < n; i++)
        {
            order[i] = i;
        }

        var keys = values.ToArray();
        Array.Sort(keys, order);
        var ranks = new double[n];
        var start = 0;
        while (start < n)
        {
            var end = start + 1;
            while (end < n && keys[end] == keys[start])
            {
                end++;
            }

            var rank = ((start + 1) + end) / 2.0;
            for (var k = start; k < end; k++)
            {
                ranks[order[k]] = rank;
            }

            start = end;
        }

        return ranks;
    }

    private static void CheckLengths(int a, int b)
    {
        if (a != b)
        {
            throw new ArgumentException($"The two arrays must have the same length, got {a} and {b}.");
        }
    }
}
