namespace WoodFisher.Cli.Infrastructure;

/// <summary>Summary statistics of an array: min, max, mean (NaNs skipped and counted) and fraction of zeros.</summary>
internal readonly record struct ArrayStats(double Min, double Max, double Mean, double ZeroFraction, long NaNCount)
{
    public static ArrayStats Of(NdArray array)
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity, sum = 0;
        long zeros = 0, nan = 0, n = array.Length;
        for (int i = 0; i < array.Length; i++)
        {
            double v = array.GetDouble(i);
            if (double.IsNaN(v)) { nan++; continue; }
            if (v < min) min = v;
            if (v > max) max = v;
            if (v == 0) zeros++;
            sum += v;
        }
        long finite = n - nan;
        return finite == 0
            ? new ArrayStats(double.NaN, double.NaN, double.NaN, n == 0 ? 0 : (double)zeros / n, nan)
            : new ArrayStats(min, max, sum / finite, (double)zeros / n, nan);
    }
}
