using WoodFisher.Kernels.Sparse;

namespace WoodFisher.Kernels.Tests.Sparse;

/// <summary>
/// The first product of a network from its input as given (<see cref="SampleInputProduct"/>: each part transposes the
/// batch for itself and runs a range of rows) and the row ranges it runs (<see cref="IRowRangeProduct"/>), against the
/// float64 dense product of the transposed input. Tolerance as in <see cref="SparseMatrixTests"/>.
/// </summary>
public sealed class SampleInputProductTests
{
    /// <summary>Rows cut into three ranges at multiples of the layout's unit (the last range short) give the whole product, on every SIMD path.</summary>
    [Test]
    public unsafe void RowRanges_TogetherEqualTheProduct(
        [Values("2:4", "1:4", "4:8")] string pattern,
        [Values(9, 300)] int rows,
        [Values(32, 64, 100)] int batch)
    {
        const int cols = 300;
        var (n, m) = (int.Parse(pattern.Split(':')[0]), int.Parse(pattern.Split(':')[1]));
        var (w, matrix) = NofM(rows, cols, n, m, seed: rows + batch);
        var ranges = (IRowRangeProduct)matrix;
        var rng = new Random(batch);
        var b = Enumerable.Range(0, cols * batch).Select(_ => (float)((rng.NextDouble() * 2) - 1)).ToArray();
        var bias = Enumerable.Range(0, rows).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var unit = ranges.RowUnit;
        var cuts = new[] { 0, Math.Min(rows, unit), Math.Min(rows, (rows / 2 / unit * unit) + unit), rows };
        foreach (var path in SimdPaths.Available)
        {
            using var _ = SimdPaths.Force(path);
            var c = Enumerable.Repeat(float.NaN, rows * batch).ToArray();
            fixed (float* pb = b, pc = c, pbias = bias)
            {
                for (var i = 0; i + 1 < cuts.Length; i++)
                    ranges.MultiplyRows(pb, batch, pc, pbias, relu: true, cuts[i], cuts[i + 1]);
            }

            var expected = SparseMatrixTests.Rectified(SparseMatrixTests.Reference(w, rows, cols, b, batch, bias));
            SparseMatrixTests.AssertClose(c, expected, w, b, rows, cols, batch, $"{n}:{m}, {rows} rows, batch {batch}, {path}");
        }
    }

    /// <summary>
    /// From samples given row by row: the product of their transpose, whether it splits (a 300 × 784 2:4 layer at batch
    /// 64 and more, on two cores or more) or declines and writes nothing (too small, or a format without row ranges).
    /// </summary>
    [Test]
    public void TryMultiply_EqualsTheProductOfTheTransposedBatch([Values(2, 33, 64, 100, 128)] int batch)
    {
        const int rows = 300, cols = 784;
        var (w, matrix) = NofM(rows, cols, 2, 4, seed: batch);
        var rng = new Random(batch + 1);
        var x = Enumerable.Range(0, batch * cols).Select(_ => (float)((rng.NextDouble() * 2) - 1)).ToArray();
        var bias = Enumerable.Range(0, rows).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var b = new float[cols * batch];
        for (var i = 0; i < batch; i++)
        {
            for (var j = 0; j < cols; j++)
                b[(j * batch) + i] = x[(i * cols) + j];
        }

        using var product = new SampleInputProduct(cols, 128);
        var c = Enumerable.Repeat(float.NaN, rows * batch).ToArray();
        var split = product.TryMultiply(matrix, x, batch, c, bias, relu: true);
        var expected = SparseMatrixTests.Rectified(SparseMatrixTests.Reference(w, rows, cols, b, batch, bias));
        if (split)
            SparseMatrixTests.AssertClose(c, expected, w, b, rows, cols, batch, $"batch {batch}");
        else
            Assert.That(c, Has.All.NaN, "declined: nothing written");
        if (CoreSplit.Cores >= 2 && batch >= 64)
            Assert.That(split, Is.True, "a 2:4 layer of 300 × 784 at batch 64 splits");

        var dense = new DenseWeights(rows, cols, w);
        Assert.That(product.TryMultiply(dense, x, batch, c, bias, relu: false), Is.False, "dense weights have no row ranges");
    }

    [Test]
    public void TryMultiply_RefusesBatchesAndSpansThatDoNotFit()
    {
        var (_, matrix) = NofM(8, 16, 2, 4, seed: 1);
        using var product = new SampleInputProduct(16, 4);
        Assert.Throws<ArgumentException>(() => product.TryMultiply(matrix, new float[16 * 5], 5, new float[8 * 5], default, false), "batch over the maximum");
        Assert.Throws<ArgumentException>(() => product.TryMultiply(matrix, new float[16 * 3], 4, new float[8 * 4], default, false), "samples short");
        Assert.Throws<ArgumentException>(() => product.TryMultiply(matrix, new float[16 * 4], 4, new float[8 * 3], default, false), "C short");
        using var other = new SampleInputProduct(17, 4);
        Assert.Throws<ArgumentException>(() => other.TryMultiply(matrix, new float[17 * 4], 4, new float[8 * 4], default, false), "inputs of another width");
    }

    /// <summary>A random N:M matrix (N random inputs of each group of M per row) and its compressed form.</summary>
    private static (float[] W, NofMMatrix Matrix) NofM(int rows, int cols, int n, int m, int seed)
    {
        var rng = new Random(seed);
        var w = new float[rows * cols];
        for (var r = 0; r < rows; r++)
        {
            for (var g = 0; g < cols; g += m)
            {
                foreach (var j in Enumerable.Range(g, Math.Min(m, cols - g)).OrderBy(_ => rng.Next()).Take(n))
                    w[(r * cols) + j] = (float)((rng.NextDouble() * 2) - 1);
            }
        }

        return (w, NofMMatrix.FromDense(w, rows, cols, n, m));
    }
}
