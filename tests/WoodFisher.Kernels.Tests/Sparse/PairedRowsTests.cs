using WoodFisher.Kernels.Sparse;

namespace WoodFisher.Kernels.Tests.Sparse;

/// <summary>
/// The N:M product C = WB + b, which runs rows four at a time over tiles of two or four 512-bit registers on AVX-512
/// (<see cref="QuadRows"/>: one list per subset of the four rows) and in pairs elsewhere (inputs both rows use, then each
/// row's own), against the float64 dense product on every SIMD path this machine runs: rows that share every input,
/// none, or a random half; quads and pairs cut short by the last row (row counts 1, 2, 9, 31); rows empty in whole chunks
/// of 128 inputs; entries at one place that add up; widths n of whole four-register tiles (64), two-register tiles (32,
/// 96), both with columns left to the pairs (70, 100, 129), and none (2 … 31). Tolerance as in <see cref="SparseMatrixTests"/>: 2k·u·Σ|w·b| for k
/// terms, u = 2⁻²⁴ (the first-order bound on a float32 sum, doubled).
/// </summary>
public sealed class PairedRowsTests
{
    public enum Pairing
    {
        /// <summary>Each odd row keeps the same inputs as the row before it: every input shared.</summary>
        Identical,

        /// <summary>Each odd row keeps the other two inputs of every group: nothing shared.</summary>
        Complementary,

        /// <summary>Two random inputs of each group per row.</summary>
        Random,

        /// <summary>Random, with the first rows empty over the first chunk of 128 inputs and the last row empty everywhere.</summary>
        EmptyChunks,
    }

    [Test]
    public void Products_EqualFloat64DenseProduct(
        [Values] Pairing pairing,
        [Values(1, 2, 9, 31)] int rows,
        [Values(13, 300)] int cols)
    {
        var w = Matrix(rows, cols, pairing, seed: (rows * 7) + cols);
        var matrix = NofMMatrix.FromDense(w, rows, cols, 2, 4);
        var rng = new Random(rows + cols);
        var bias = Enumerable.Range(0, rows).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        foreach (var path in SimdPaths.Available)
        {
            using var _ = SimdPaths.Force(path);
            foreach (var n in new[] { 2, 5, 8, 16, 31, 32, 64, 70, 96, 100, 129 })
            {
                var b = Enumerable.Range(0, cols * n).Select(_ => (float)((rng.NextDouble() * 2) - 1)).ToArray();
                var c = Enumerable.Repeat(float.NaN, rows * n).ToArray();
                matrix.Multiply(b, n, c, bias);
                SparseMatrixTests.AssertClose(c, SparseMatrixTests.Reference(w, rows, cols, b, n, bias), w, b, rows, cols, n, $"C = WB + b, n = {n}, {path}");
                c.AsSpan().Fill(float.NaN);
                matrix.Multiply(b, n, c);
                SparseMatrixTests.AssertClose(c, SparseMatrixTests.Reference(w, rows, cols, b, n, null), w, b, rows, cols, n, $"C = WB, n = {n}, {path}");
                matrix.Multiply(b, n, c, bias, relu: true);
                var rectified = SparseMatrixTests.Rectified(SparseMatrixTests.Reference(w, rows, cols, b, n, bias));
                SparseMatrixTests.AssertClose(c, rectified, w, b, rows, cols, n, $"C = max(WB + b, 0), n = {n}, {path}");
            }
        }
    }

    /// <summary>
    /// Every subset of four rows keeps some inputs (input j kept by row r when bit r of j mod 16 is set; 4:4 leaves each
    /// group any pattern of zeros), so that all fifteen lists of a quad run, over three chunks of 128 inputs (the last
    /// short), with a last quad of two rows.
    /// </summary>
    [Test]
    public void EveryRowSubset_EqualsFloat64DenseProduct([Values(4, 6, 16)] int rows)
    {
        const int cols = 300;
        var rng = new Random(rows);
        var w = new float[rows * cols];
        for (var r = 0; r < rows; r++)
        {
            for (var j = 0; j < cols; j++)
            {
                if ((((j + (r / 4)) % 16) & (1 << (r % 4))) != 0)
                    w[(r * cols) + j] = (float)((rng.NextDouble() * 2) - 1);
            }
        }

        var matrix = NofMMatrix.FromDense(w, rows, cols, 4, 4);
        var bias = Enumerable.Range(0, rows).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        foreach (var path in SimdPaths.Available)
        {
            using var _ = SimdPaths.Force(path);
            foreach (var n in new[] { 32, 64, 96, 100 })
            {
                var b = Enumerable.Range(0, cols * n).Select(_ => (float)((rng.NextDouble() * 2) - 1)).ToArray();
                var c = Enumerable.Repeat(float.NaN, rows * n).ToArray();
                matrix.Multiply(b, n, c, bias, relu: true);
                var expected = SparseMatrixTests.Rectified(SparseMatrixTests.Reference(w, rows, cols, b, n, bias));
                SparseMatrixTests.AssertClose(c, expected, w, b, rows, cols, n, $"{rows} rows, n = {n}, {path}");
            }
        }
    }

    /// <summary>Two slots of a group at one offset: the product is that of the matrix they add up to (<see cref="NofMMatrix.ToDense"/>).</summary>
    [Test]
    public void EntriesAtOnePlace_AddUp()
    {
        const int rows = 3, cols = 8, n = 64;
        var values = new float[] { 1.5f, -0.25f, 2f, 3f, 0.5f, 0.5f, -1f, 4f, 0f, 0f, 7f, -2f };
        var offsets = new byte[] { 1, 1, 0, 3, 2, 2, 0, 1, 0, 0, 3, 3 };
        var matrix = new NofMMatrix(rows, cols, 2, 4, values, offsets);
        var w = matrix.ToDense();
        Assert.That(w[1], Is.EqualTo(1.25f), "row 0, column 1 holds 1.5 − 0.25");
        var rng = new Random(11);
        var b = Enumerable.Range(0, cols * n).Select(_ => (float)((rng.NextDouble() * 2) - 1)).ToArray();
        foreach (var path in SimdPaths.Available)
        {
            using var _ = SimdPaths.Force(path);
            var c = new float[rows * n];
            matrix.Multiply(b, n, c);
            SparseMatrixTests.AssertClose(c, SparseMatrixTests.Reference(w, rows, cols, b, n, null), w, b, rows, cols, n, $"{path}");
        }
    }

    private static float[] Matrix(int rows, int cols, Pairing pairing, int seed)
    {
        var rng = new Random(seed);
        var w = new float[rows * cols];
        var kept = new int[(cols + 3) / 4 * 2];
        for (var r = 0; r < rows; r++)
        {
            for (var g = 0; g * 4 < cols; g++)
            {
                var width = Math.Min(4, cols - (g * 4));
                if (r % 2 == 0 || pairing is Pairing.Random or Pairing.EmptyChunks)
                {
                    var order = Enumerable.Range(0, width).OrderBy(_ => rng.Next()).ToArray();
                    (kept[2 * g], kept[(2 * g) + 1]) = (order[0], width > 1 ? order[1] : -1);
                }
                else if (pairing == Pairing.Complementary)
                {
                    var rest = Enumerable.Range(0, width).Where(j => j != kept[2 * g] && j != kept[(2 * g) + 1]).ToArray();
                    (kept[2 * g], kept[(2 * g) + 1]) = (rest.Length > 0 ? rest[0] : -1, rest.Length > 1 ? rest[1] : -1);
                }

                var empty = pairing == Pairing.EmptyChunks && ((r < 2 && g * 4 < 128) || (r == rows - 1 && rows > 1));
                foreach (var j in new[] { kept[2 * g], kept[(2 * g) + 1] })
                {
                    if (j >= 0 && !empty)
                    {
                        w[(r * cols) + (g * 4) + j] = (float)((rng.NextDouble() * 2) - 1);
                    }
                }
            }
        }

        return w;
    }
}
