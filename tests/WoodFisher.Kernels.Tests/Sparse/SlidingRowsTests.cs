using WoodFisher.Kernels.Sparse;

namespace WoodFisher.Kernels.Tests.Sparse;

/// <summary>
/// The batch-1 layout (<see cref="SlidingRows"/>), slices of 16 rows with windows of 8 inputs (AVX2) and of 16 (AVX-512),
/// against a float64 dense product: shapes that leave partial slices and a last window clamped to the end of x (or padded past it), rows of every
/// length, entries out of order, repeated places and explicit zeros, bias and ReLU, and inputs whose leading and trailing
/// zeros skip steps; where it declines a matrix; that no window's load spans two cache lines. Tolerance as in
/// <see cref="SparseMatrixTests"/>: 2k·u·Σ|w·x| for a sum of k products.
/// </summary>
public sealed class SlidingRowsTests
{
    [TestCase(1, 8)]
    [TestCase(8, 8)]
    [TestCase(9, 17)]
    [TestCase(16, 31)]
    [TestCase(37, 13)]
    [TestCase(20, 63)]
    [TestCase(18, 65)]
    [TestCase(300, 784)]
    [TestCase(100, 300)]
    [TestCase(10, 100)]
    [TestCase(64, 1000)]
    [TestCase(100, 253)]
    [TestCase(48, 126)]
    public void EqualsFloat64DenseProduct(int rows, int cols)
    {
        foreach (var window in SupportedWindows())
        {
            foreach (var mask in new[] { SparseMatrixTests.Mask.Random10, SparseMatrixTests.Mask.Random50, SparseMatrixTests.Mask.EmptyRows, SparseMatrixTests.Mask.Dense, SparseMatrixTests.Mask.TwoOfFour })
            {
                var w = SparseMatrixTests.MakeMatrix(rows, cols, mask, seed: rows + cols);
                var layout = Build(window, w, rows, cols);
                if (layout is null && rows < SlidingRows.SliceRows / 2)
                {
                    continue; // most of every step's lanes would be padding
                }

                Assert.That(layout, Is.Not.Null, $"{mask}, windows of {window}: a uniformly pruned matrix is laid out");
                var rng = new Random(5);
                AssertProduct(layout!, w, rows, cols, Enumerable.Range(0, cols).Select(_ => (float)((rng.NextDouble() * 2) - 1)).ToArray(), $"{mask}, {rows} × {cols}, windows of {window}");
            }
        }
    }

    [TestCase(300, 784)]
    [TestCase(17, 100)]
    [TestCase(8, 9)]
    public void SkipsLeadingAndTrailingZeros_AndEqualsFloat64DenseProduct(int rows, int cols)
    {
        foreach (var window in SupportedWindows())
        {
            AssertSkips(window, rows, cols);
        }
    }

    private static void AssertSkips(int window, int rows, int cols)
    {

        // Inputs zero but for one span (an image's blank border), starting and ending at every residue of a window of
        // eight; one input alone; the first or last alone; −0 in the border; all zero (y is the bias). The skipped steps hold
        // entries of every row, so skipping them must still give Wx.
        var w = SparseMatrixTests.MakeMatrix(rows, cols, SparseMatrixTests.Mask.Random50, seed: 21);
        var layout = Build(window, w, rows, cols)!;
        var rng = new Random(8);
        var spans = new List<(int First, int Last)> { (0, cols - 1), (0, 0), (cols - 1, cols - 1), (cols / 2, cols / 2) };
        for (var a = 0; a < Math.Min(cols, 17); a++)
        {
            spans.Add((a, Math.Max(a, cols - 1 - (2 * a) % cols)));
        }

        foreach (var (first, last) in spans)
        {
            var x = new float[cols];
            for (var j = first; j <= last; j++)
            {
                x[j] = j == first || j == last || rng.Next(3) > 0 ? (float)((rng.NextDouble() * 2) - 1) : 0f;
            }

            if (first > 0)
            {
                x[first - 1] = -0f;
            }

            AssertProduct(layout, w, rows, cols, x, $"non-zeros in [{first}, {last}] of {cols}, windows of {window}");
        }

        AssertProduct(layout, w, rows, cols, new float[cols], $"all zero, windows of {window}");
    }

    [Test]
    public void TakesRowsInAnyOrderWithRepeatsAndZeros()
    {
        foreach (var window in SupportedWindows())
        {

            // Row 0: columns 40, 3, 40 (repeated: the values add), an explicit zero at 5; row 1 empty; row 2 one entry at 69.
            int[] pointers = [0, 4, 4, 5];
            int[] cols = [40, 3, 40, 5, 69];
            float[] values = [0.5f, -2f, 0.25f, 0f, 3f];
            var layout = SlidingRows.TryBuild(window, 3, 70, values, cols, pointers);
            Assert.That(layout, Is.Not.Null);
            var w = new float[3 * 70];
            w[40] = 0.75f;
            w[3] = -2f;
            w[(2 * 70) + 69] = 3f;
            AssertProduct(layout!, w, 3, 70, Enumerable.Range(0, 70).Select(j => (float)Math.Cos(j)).ToArray(), $"out of order, repeated, zero, windows of {window}");
        }
    }

    [Test]
    public void Declines_TooFewOrTooManyColumns_AndPaddingBeyondFourSlotsPerEntry()
    {
        foreach (var window in new[] { 8, 16 })
        {
            Assert.That(SlidingRows.TryBuild(window, 2, 7, [1f, 1f], [0, 6], [0, 1, 2]), Is.Null, "fewer than 8 columns");
            Assert.That(SlidingRows.TryBuild(window, 1, SlidingRows.MaxColumns + 1, [1f], [5], [0, 1]), Is.Null, "offsets past 16 bits");
        }

        Assert.That(() => SlidingRows.TryBuild(4, 1, 8, [1f], [0], [0, 1]), Throws.InstanceOf<ArgumentOutOfRangeException>());

        // Row 0 full, the other 15 one entry each, 16 columns apart: the one slice takes a step per entry of row 0, each with
        // one entry in its 16 lanes but for the short rows' (about 15 slots per entry).
        const int rows = 16, columns = 256;
        var w = new float[rows * columns];
        for (var r = 0; r < rows; r++)
        {
            for (var j = 0; j < columns; j++)
            {
                w[(r * columns) + j] = r == 0 || j == 16 * r ? 1f : 0f;
            }
        }

        Assert.That(Build(8, w, rows, columns), Is.Null);
        Assert.That(Build(16, w, rows, columns), Is.Null);
        var csr = CsrMatrix.FromDense(w, rows, columns);
        var x = Enumerable.Range(0, columns).Select(j => (float)Math.Sin(j)).ToArray();
        foreach (var path in SimdPaths.Available)
        {
            using var _ = SimdPaths.Force(path);
            var y = new float[rows];
            csr.MultiplyVector(x, y);
            SparseMatrixTests.AssertClose(y, SparseMatrixTests.Reference(w, rows, columns, x, 1, null), w, x, rows, columns, 1, $"{path}, declined layout: gathered dot products");
        }
    }

    [Test]
    public void SlidingWindows_PadLessThanFixedOnes()
    {
        // A random 8%-dense 300 × 784 matrix (a 90%-pruned MLP's first layer), slices of 16 rows: windows of 8 at multiples
        // of 8 pad about 3.4 slots per entry, sliding ones about 2.5 once the rows are balanced; windows of 16 at multiples of
        // 16 about 2.8, sliding ones starting at multiples of 8 about 2.2.
        var rng = new Random(3);
        const int rows = 300, cols = 784;
        var w = Enumerable.Range(0, rows * cols).Select(_ => rng.NextDouble() < 0.08 ? (float)(rng.NextDouble() - 0.5) : 0f).ToArray();
        var nnz = w.Count(v => v != 0);
        foreach (var window in new[] { 8, 16 })
        {
            var layout = Build(window, w, rows, cols)!;
            Assert.That(layout.Steps * (double)SlidingRows.SliceRows / nnz, Is.LessThan(window == 8 ? 2.8 : 2.4), $"slots per entry, windows of {window}");
        }
    }

    [Test]
    public void EveryWindowLoadStaysInOneCacheLine()
    {
        foreach (var window in new[] { 8, 16 })
        {
            foreach (var cols in new[] { 8, 9, 16, 17, 23, 300, 784, SlidingRows.MaxColumns })
            {
                var span = SlidingRows.Span(window, cols);
                Assert.That(span, Is.GreaterThanOrEqualTo(cols), "a copy holds x");
                for (var offset = 0; offset + window <= span; offset += SlidingRows.Granularity(window))
                {
                    var at = SlidingRows.ScratchOffset(offset, window, cols);
                    Assert.That((at % 16) + window, Is.LessThanOrEqualTo(16), $"window of {window} at {offset} of {cols}: scratch float {at}");
                    var copy = at >= SlidingRows.SecondCopy(window, cols) ? SlidingRows.SecondCopy(window, cols) : 0;
                    Assert.That(at - copy, Is.EqualTo(offset), "the window holds x[offset..offset + window)");
                    Assert.That(copy == 0 || copy >= span, "the copies do not overlap");
                    Assert.That(at + window, Is.LessThanOrEqualTo(65536), "within a 16-bit offset");
                }

                Assert.That((span - window) % SlidingRows.Granularity(window), Is.Zero, "the last window starts where a window may");
            }
        }
    }

    /// <summary>The windows this machine runs (8 with AVX2, 16 with AVX-512); the test is ignored where it runs neither.</summary>
    private static int[] SupportedWindows()
    {
        var windows = new[] { 8, 16 }.Where(SlidingRows.Supported).ToArray();
        if (windows.Length == 0)
        {
            Assert.Ignore("No AVX2 on this machine: no sliding layout is built (gathered dot products serve y = Wx).");
        }

        return windows;
    }

    private static SlidingRows? Build(int window, float[] w, int rows, int cols)
    {
        var csr = CsrMatrix.FromDense(w, rows, cols);
        return SlidingRows.TryBuild(window, rows, cols, csr.Values.ToArray(), csr.ColumnIndices.ToArray(), csr.RowPointers.ToArray());
    }

    private static unsafe void AssertProduct(SlidingRows layout, float[] w, int rows, int cols, float[] x, string what)
    {
        var rng = new Random(6);
        var bias = Enumerable.Range(0, rows).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        foreach (var (withBias, relu) in new[] { (false, false), (true, false), (true, true) })
        {
            var y = Enumerable.Repeat(float.NaN, rows).ToArray();
            fixed (float* px = x, py = y, pb = bias)
            {
                layout.MultiplyVector(px, py, withBias ? pb : null, relu);
            }

            var expected = SparseMatrixTests.Reference(w, rows, cols, x, 1, withBias ? bias : null);
            SparseMatrixTests.AssertClose(y, relu ? SparseMatrixTests.Rectified(expected) : expected, w, x, rows, cols, 1, $"{what}, bias {withBias}, relu {relu}");
        }
    }
}
