namespace WoodFisher.Models.Tests;

internal static class TestData
{
    /// <summary>Uniform(−1, 1) inputs [n, per] and labels in [0, classes), seeded.</summary>
    public static (float[] X, int[] Y) Random(int n, int per, int classes, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n * per];
        for (var i = 0; i < x.Length; i++)
            x[i] = (float)(rng.NextDouble() * 2 - 1);
        var y = new int[n];
        for (var i = 0; i < n; i++)
            y[i] = rng.Next(classes);
        return (x, y);
    }

    /// <summary>Linearly separable: label = argmax of a fixed random linear map of x (with margin noise-free).</summary>
    public static (float[] X, int[] Y) Separable(int n, int per, int classes, int seed)
    {
        var rng = new Random(seed);
        var w = new double[classes * per];
        for (var i = 0; i < w.Length; i++)
            w[i] = rng.NextDouble() * 2 - 1;
        var x = new float[n * per];
        for (var i = 0; i < x.Length; i++)
            x[i] = (float)(rng.NextDouble() * 2 - 1);
        var y = new int[n];
        for (var s = 0; s < n; s++)
        {
            var best = double.NegativeInfinity;
            for (var c = 0; c < classes; c++)
            {
                double z = 0;
                for (var j = 0; j < per; j++)
                    z += w[c * per + j] * x[s * per + j];
                if (z > best)
                {
                    best = z;
                    y[s] = c;
                }
            }
        }
        return (x, y);
    }
}
