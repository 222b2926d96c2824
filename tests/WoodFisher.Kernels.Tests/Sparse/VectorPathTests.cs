using WoodFisher.Kernels.Sparse;

namespace WoodFisher.Kernels.Tests.Sparse;

/// <summary>
/// The batch-1 paths against a float64 dense product: the windowed AVX-512 layout (<see cref="WindowedRows"/>) at shapes
/// that leave partial slices and windows, with rows of every length, entries out of order, repeated places and explicit
/// zeros (columns below, at and just past one and two windows, so that the last window is whole or partial), and inputs
/// with windows of zeros (skipped); when it declines a matrix; the dense four-row y = Wx and the dense
/// C = WB tiles on every SIMD path. Tolerance as in
/// <see cref="SparseMatrixTests"/>: 2k·u·Σ|w·x| for a sum of k products.
/// </summary>
public sealed class VectorPathTests
{
    [TestCase(1, 1)]
    [TestCase(16, 31)]
    [TestCase(16, 32)]
    [TestCase(17, 33)]
    [TestCase(37, 13)]
    [TestCase(20, 63)]
    [TestCase(15, 64)]
    [TestCase(18, 65)]
    [TestCase(300, 784)]
    [TestCase(100, 300)]
    [TestCase(10, 100)]
    [TestCase(64, 1000)]
    public void Windowed_EqualsFloat64DenseProduct(int rows, int cols)
    {
        if (!WindowedRows.Supported)
        {
            Assert.Ignore("No AVX-512 on this machine: the windowed layout is not built (the gather path serves y = Wx).");
        }

        foreach (var mask in new[] { SparseMatrixTests.Mask.Random10, SparseMatrixTests.Mask.Random50, SparseMatrixTests.Mask.EmptyRows, SparseMatrixTests.Mask.Dense, SparseMatrixTests.Mask.TwoOfFour })
        {
            var w = SparseMatrixTests.MakeMatrix(rows, cols, mask, seed: rows + cols);
            var csr = CsrMatrix.FromDense(w, rows, cols);
            foreach (var sliceRows in new[] { 0, 16, 32 })
            {
                var layout = WindowedRows.TryBuild(rows, cols, csr.Values.ToArray(), csr.ColumnIndices.ToArray(), csr.RowPointers.ToArray(), sliceRows);
                if (layout is null && sliceRows == 32 && rows <= 16)
                {
                    continue; // half of every step would be padding lanes
                }

                Assert.That(layout, Is.Not.Null, $"{mask}, slices of {sliceRows}: a uniformly pruned matrix is laid out");
                AssertProduct(layout!, w, rows, cols, $"{mask}, {rows} × {cols}, slices of {layout!.SliceRows}");
            }
        }
    }

    [TestCase(300, 784, 0.08)]
    [TestCase(100, 300, 0.25)]
    [TestCase(33, 200, 0.04)]
    [TestCase(10, 100, 0.25)]
    public void Windowed_KeepsTheCheaperSliceWidth(int rows, int cols, double density)
    {
        if (!WindowedRows.Supported)
        {
            Assert.Ignore("No AVX-512 on this machine.");
        }

        var rng = new Random(rows);
        var w = Enumerable.Range(0, rows * cols).Select(_ => rng.NextDouble() < density ? (float)(rng.NextDouble() - 0.5) : 0f).ToArray();
        var csr = CsrMatrix.FromDense(w, rows, cols);
        var (v, c, p) = (csr.Values.ToArray(), csr.ColumnIndices.ToArray(), csr.RowPointers.ToArray());
        var layout = WindowedRows.TryBuild(rows, cols, v, c, p);
        Assert.That(layout, Is.Not.Null);
        if (rows <= 16)
        {
            Assert.That(layout!.SliceRows, Is.EqualTo(16), "one slice of 16 rows: 32 would only pad");
        }
        else
        {
            var other = WindowedRows.TryBuild(rows, cols, v, c, p, 48 - layout!.SliceRows)!;
            static long Cost(WindowedRows l) => l.Steps + (WindowedRows.RunCost * (long)l.Runs);
            Assert.That(Cost(layout), Is.LessThanOrEqualTo(Cost(other)), $"slices of {layout.SliceRows} cost no more than of {other.SliceRows}");
            AssertProduct(other, w, rows, cols, $"{rows} × {cols}, slices of {other.SliceRows}");
        }

        AssertProduct(layout, w, rows, cols, $"{rows} × {cols}, slices of {layout.SliceRows}");
    }

    [Test]
    public void Windowed_TakesRowsInAnyOrderWithRepeatsAndZeros()
    {
        if (!WindowedRows.Supported)
        {
            Assert.Ignore("No AVX-512 on this machine.");
        }

        // Row 0: columns 40, 3, 40 (repeated: the values add), an explicit zero at 5; row 1 empty; row 2 one entry at 69.
        int[] pointers = [0, 4, 4, 5];
        int[] cols = [40, 3, 40, 5, 69];
        float[] values = [0.5f, -2f, 0.25f, 0f, 3f];
        var layout = WindowedRows.TryBuild(3, 70, values, cols, pointers);
        Assert.That(layout, Is.Not.Null);
        var w = new float[3 * 70];
        w[40] = 0.75f;
        w[3] = -2f;
        w[(2 * 70) + 69] = 3f;
        AssertProduct(layout!, w, 3, 70, "out of order, repeated, zero");
    }

    [Test]
    public void Windowed_DeclinesPaddingBeyondFourSlotsPerEntry()
    {
        // Rows 0 and 16 full, the other 30 one entry each: sorted by length, the two full rows share a slice whose every
        // window then takes 32 steps of 16 slots for about 64 entries (7.6 slots per entry over the matrix).
        const int rows = 32, cols = 256;
        var w = new float[rows * cols];
        for (var r = 0; r < rows; r++)
        {
            for (var j = 0; j < cols; j++)
            {
                w[(r * cols) + j] = r % 16 == 0 || j == r ? 1f : 0f;
            }
        }

        var csr = CsrMatrix.FromDense(w, rows, cols);
        Assert.That(WindowedRows.TryBuild(rows, cols, csr.Values.ToArray(), csr.ColumnIndices.ToArray(), csr.RowPointers.ToArray()), Is.Null);

        // The matrix still multiplies correctly: its y = Wx falls back to the gathered dot products.
        var x = Enumerable.Range(0, cols).Select(j => (float)Math.Sin(j)).ToArray();
        var y = new float[rows];
        csr.MultiplyVector(x, y);
        SparseMatrixTests.AssertClose(y, SparseMatrixTests.Reference(w, rows, cols, x, 1, null), w, x, rows, cols, 1, "declined layout");
    }

    [Test]
    public void Windowed_GroupsRowsThatShareWindows()
    {
        if (!WindowedRows.Supported)
        {
            Assert.Ignore("No AVX-512 on this machine.");
        }

        // 32 rows of 8 entries each, rows 0-14 and 16 in window 0, the others in window 1. In row order (all lengths tie)
        // both slices hold both kinds and pay 8 steps in each window (32 steps); swapping rows 15 and 16 leaves each slice
        // one window (16 steps).
        const int rows = 32, cols = 64;
        var w = new float[rows * cols];
        for (var r = 0; r < rows; r++)
        {
            var window = r < 15 || r == 16 ? 0 : 1;
            for (var j = 0; j < 8; j++)
            {
                w[(r * cols) + (window * 32) + (3 * j)] = r + j + 1;
            }
        }

        var csr = CsrMatrix.FromDense(w, rows, cols);
        var layout = WindowedRows.TryBuild(rows, cols, csr.Values.ToArray(), csr.ColumnIndices.ToArray(), csr.RowPointers.ToArray());
        Assert.That(layout, Is.Not.Null);
        Assert.That(layout!.Steps, Is.EqualTo(16), "rows that share windows share slices");
        AssertProduct(layout, w, rows, cols, "interleaved windows");
    }

    [TestCase(300, 784)]
    [TestCase(17, 100)]
    public void Windowed_SkipsZeroWindows_AndEqualsFloat64DenseProduct(int rows, int cols)
    {
        if (!WindowedRows.Supported)
        {
            Assert.Ignore("No AVX-512 on this machine.");
        }

        // An image-like input: whole windows of zeros (one of them −0), a window zero but for its last input, scattered
        // zeros elsewhere; the skipped windows hold entries of every row, so skipping them must still give Wx.
        var w = SparseMatrixTests.MakeMatrix(rows, cols, SparseMatrixTests.Mask.Random10, seed: 21);
        var csr = CsrMatrix.FromDense(w, rows, cols);
        foreach (var sliceRows in new[] { 16, 32 })
        {
            var layout = WindowedRows.TryBuild(rows, cols, csr.Values.ToArray(), csr.ColumnIndices.ToArray(), csr.RowPointers.ToArray(), sliceRows);
            Assert.That(layout, Is.Not.Null);
            AssertZeroWindows(layout!, w, rows, cols);
        }
    }

    private static unsafe void AssertZeroWindows(WindowedRows layout, float[] w, int rows, int cols)
    {
        var rng = new Random(8);
        var x = Enumerable.Range(0, cols).Select(j => j < 64 || (j >= 96 && j < 127) || j % 3 == 0 ? 0f : (float)((rng.NextDouble() * 2) - 1)).ToArray();
        x[40] = -0f;
        x[127 % cols] = 0.5f;
        var y = Enumerable.Repeat(float.NaN, rows).ToArray();
        fixed (float* px = x, py = y)
        {
            layout.MultiplyVector(px, py, null);
        }

        SparseMatrixTests.AssertClose(y, SparseMatrixTests.Reference(w, rows, cols, x, 1, null), w, x, rows, cols, 1, $"zero windows, {rows} × {cols}");
        Array.Clear(x);
        fixed (float* px = x, py = y)
        {
            layout.MultiplyVector(px, py, null);
        }

        Assert.That(y, Is.All.EqualTo(0f), "an all-zero input gives zeros");
    }

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

    private static unsafe void AssertProduct(WindowedRows layout, float[] w, int rows, int cols, string what)
    {
        var rng = new Random(5);
        var x = Enumerable.Range(0, cols).Select(_ => (float)((rng.NextDouble() * 2) - 1)).ToArray();
        var bias = Enumerable.Range(0, rows).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        foreach (var withBias in new[] { false, true })
        {
            var y = Enumerable.Repeat(float.NaN, rows).ToArray();
            fixed (float* px = x, py = y, pb = bias)
            {
                layout.MultiplyVector(px, py, withBias ? pb : null);
            }

            SparseMatrixTests.AssertClose(y, SparseMatrixTests.Reference(w, rows, cols, x, 1, withBias ? bias : null), w, x, rows, cols, 1, $"{what}, bias {withBias}");
        }
    }
}
