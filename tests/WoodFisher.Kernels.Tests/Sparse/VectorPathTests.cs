using WoodFisher.Kernels.Sparse;

namespace WoodFisher.Kernels.Tests.Sparse;

/// <summary>
/// The dense weights' kernels against a float64 dense product on every SIMD path: the four-row y = Wx and the C = WB tiles
/// (the sparse batch-1 layout has <see cref="SlidingRowsTests"/>). Tolerance as in <see cref="SparseMatrixTests"/>:
/// 2k·u·Σ|w·x| for a sum of k products.
/// </summary>
public sealed class VectorPathTests
{
    [TestCase(147, 784, 64)]
    [TestCase(53, 147, 64)]
    [TestCase(10, 53, 130)]
    public void DenseTiles_EqualFloat64DenseProduct_OnEveryPath(int rows, int cols, int n)
    {
        // The half-width MLP's shapes at batch 64 (rows not a multiple of 4, depth across chunks of 128) and a batch that
        // leaves columns to the GEMM after the whole tiles.
        var w = SparseMatrixTests.MakeMatrix(rows, cols, SparseMatrixTests.Mask.Dense, seed: 4);
        var dense = new DenseWeights(rows, cols, w);
        var rng = new Random(12);
        var b = Enumerable.Range(0, cols * n).Select(_ => (float)((rng.NextDouble() * 2) - 1)).ToArray();
        var bias = Enumerable.Range(0, rows).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        foreach (var path in SimdPaths.Available)
        {
            using var _ = SimdPaths.Force(path);
            var c = Enumerable.Repeat(float.NaN, rows * n).ToArray();
            dense.Multiply(b, n, c, bias);
            SparseMatrixTests.AssertClose(c, SparseMatrixTests.Reference(w, rows, cols, b, n, bias), w, b, rows, cols, n, $"{path}: {rows} × {cols} × {n}");
        }
    }

    [TestCase(1, 1)]
    [TestCase(3, 15)]
    [TestCase(4, 16)]
    [TestCase(5, 17)]
    [TestCase(6, 7)]
    [TestCase(9, 31)]
    [TestCase(300, 784)]
    public void DenseRows4_EqualsFloat64DenseProduct_OnEveryPath(int rows, int cols)
    {
        var w = SparseMatrixTests.MakeMatrix(rows, cols, SparseMatrixTests.Mask.Dense, seed: 3);
        var dense = new DenseWeights(rows, cols, w);
        var rng = new Random(11);
        var x = Enumerable.Range(0, cols).Select(_ => (float)((rng.NextDouble() * 2) - 1)).ToArray();
        var bias = Enumerable.Range(0, rows).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        foreach (var path in SimdPaths.Available)
        {
            using var _ = SimdPaths.Force(path);
            var y = Enumerable.Repeat(float.NaN, rows).ToArray();
            dense.MultiplyVector(x, y, bias);
            SparseMatrixTests.AssertClose(y, SparseMatrixTests.Reference(w, rows, cols, x, 1, bias), w, x, rows, cols, 1, $"{path}: {rows} × {cols}");
        }
    }
}
