using WoodFisher.Kernels.Sparse;

namespace WoodFisher.Kernels.Tests.Sparse;

/// <summary>
/// Every format's y = Wx + b and C = WB + b against a float64 dense product over the same matrix, on every SIMD path this
/// machine runs, for odd shapes, empty rows, an all-zero matrix and the masks each pattern makes. Tolerance: a float32 sum
/// of k products is within k·u·Σ|w·x| of the exact one (u = 2⁻²⁴, first-order bound, Higham §3.1); the test allows 2k·u·Σ|w·x|.
/// </summary>
public sealed class SparseMatrixTests
{
    private static readonly IReadOnlyList<SimdPath> Paths = SimdPaths.Available;

    public enum Mask
    {
        Dense,
        Random10,
        Random50,
        EmptyRows,
        AllZero,
        TwoOfFour,
        OneOfFour,
        FourOfEight,
        Block4x1,
        Block1x4,
    }

    private static IEnumerable<TestCaseData> Cases()
    {
        (int Rows, int Cols)[] shapes = [(1, 1), (7, 13), (33, 65), (5, 300), (64, 25), (12, 784)];
        foreach (var (rows, cols) in shapes)
        {
            foreach (var mask in Enum.GetValues<Mask>())
            {
                foreach (var format in Enum.GetValues<WeightFormat>())
                {
                    if (Fits(format, mask, rows, cols))
                    {
                        yield return new TestCaseData(rows, cols, mask, format).SetName($"{format}_{mask}_{rows}x{cols}");
                    }
                }
            }
        }
    }

    /// <summary>Formats that can hold the mask: N:M needs an N:M mask, BSR takes any (its tiles are the pattern's when they match).</summary>
    private static bool Fits(WeightFormat format, Mask mask, int rows, int cols) => format switch
    {
        WeightFormat.NofM => mask is Mask.TwoOfFour or Mask.OneOfFour or Mask.FourOfEight or Mask.AllZero,
        WeightFormat.Block => mask is not Mask.Dense || rows * cols < 5000,
        _ => true,
    };

    [TestCaseSource(nameof(Cases))]
    public void Products_EqualFloat64DenseProduct(int rows, int cols, Mask mask, WeightFormat format)
    {
        var w = MakeMatrix(rows, cols, mask, seed: rows * 31 + cols);
        var matrix = Build(format, mask, w, rows, cols);
        Assert.That(matrix.ToDense(), Is.EqualTo(w), "ToDense gives back the matrix");
        var rng = new Random(7);
        var bias = Enumerable.Range(0, rows).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        foreach (var lanes in Paths)
        {
            using var _ = SimdPaths.Force(lanes);
            var x = RandomVector(rng, cols);
            var y = new float[rows];
            matrix.MultiplyVector(x, y, bias);
            AssertClose(y, Reference(w, rows, cols, x, 1, bias), w, x, rows, cols, 1, $"y = Wx + b, {lanes}");
            matrix.MultiplyVector(x, y);
            AssertClose(y, Reference(w, rows, cols, x, 1, null), w, x, rows, cols, 1, $"y = Wx, {lanes}");
            matrix.MultiplyVector(x, y, bias, relu: true);
            AssertClose(y, Rectified(Reference(w, rows, cols, x, 1, bias)), w, x, rows, cols, 1, $"y = max(Wx + b, 0), {lanes}");
            foreach (var n in new[] { 1, 2, 3, 16, 17, 32, 33, 48, 63, 64, 65, 96 })
            {
                var b = RandomVector(rng, cols * n);
                var c = Enumerable.Repeat(float.NaN, rows * n).ToArray();
                matrix.Multiply(b, n, c, bias);
                AssertClose(c, Reference(w, rows, cols, b, n, bias), w, b, rows, cols, n, $"C = WB + b, n = {n}, {lanes}");
                c.AsSpan().Fill(float.NaN);
                matrix.Multiply(b, n, c, bias, relu: true);
                AssertClose(c, Rectified(Reference(w, rows, cols, b, n, bias)), w, b, rows, cols, n, $"C = max(WB + b, 0), n = {n}, {lanes}");
            }
        }
    }

    [TestCase(WeightFormat.Dense)]
    [TestCase(WeightFormat.Csr)]
    [TestCase(WeightFormat.NofM)]
    [TestCase(WeightFormat.Block)]
    public void LargeProducts_SplitOverCores_EqualFloat64DenseProduct(WeightFormat format)
    {
        const int rows = 300, cols = 784, n = 70;
        var mask = format switch { WeightFormat.NofM => Mask.TwoOfFour, WeightFormat.Block => Mask.Block4x1, _ => Mask.Random10 };
        var w = MakeMatrix(rows, cols, mask, seed: 5);
        var matrix = Build(format, mask, w, rows, cols);
        var rng = new Random(3);
        var b = RandomVector(rng, cols * n);
        var c = new float[rows * n];
        matrix.Multiply(b, n, c);
        AssertClose(c, Reference(w, rows, cols, b, n, null), w, b, rows, cols, n, "rows split");
        matrix.Multiply(b, n, c, relu: true);
        AssertClose(c, Rectified(Reference(w, rows, cols, b, n, null)), w, b, rows, cols, n, "rows split, ReLU by each part");

        // Few rows and many columns: the product is split by columns (a convolution's im2col shape).
        var wide = MakeMatrix(6, 25, Mask.Random50, seed: 9);
        var wm = Build(format == WeightFormat.NofM ? WeightFormat.Csr : format, Mask.Random50, wide, 6, 25);
        const int wideN = 20000;
        var bw = RandomVector(rng, 25 * wideN);
        var cw = new float[6 * wideN];
        wm.Multiply(bw, wideN, cw);
        AssertClose(cw, Reference(wide, 6, 25, bw, wideN, null), wide, bw, 6, 25, wideN, "columns split");
        wm.Multiply(bw, wideN, cw, relu: true);
        AssertClose(cw, Rectified(Reference(wide, 6, 25, bw, wideN, null)), wide, bw, 6, 25, wideN, "columns split, ReLU by each part");
    }

    /// <summary>Dense products split over the cores at row counts whose parts are not whole passes of four rows (147: 72 + 75).</summary>
    [TestCase(147, 64)]
    [TestCase(149, 65)]
    [TestCase(9, 200)]
    [TestCase(6, 300)]
    public void DenseProducts_SplitAtOddRowCounts_EqualFloat64DenseProduct(int rows, int n)
    {
        const int cols = 784;
        var w = MakeMatrix(rows, cols, Mask.Dense, seed: rows);
        var matrix = Build(WeightFormat.Dense, Mask.Dense, w, rows, cols);
        var rng = new Random(rows + n);
        var bias = Enumerable.Range(0, rows).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var b = RandomVector(rng, cols * n);
        var c = Enumerable.Repeat(float.NaN, rows * n).ToArray();
        matrix.Multiply(b, n, c, bias);
        AssertClose(c, Reference(w, rows, cols, b, n, bias), w, b, rows, cols, n, $"{rows} rows, n = {n}");
        matrix.Multiply(b, n, c, bias, relu: true);
        AssertClose(c, Rectified(Reference(w, rows, cols, b, n, bias)), w, b, rows, cols, n, $"{rows} rows, n = {n}, ReLU by each part");
    }

    [Test]
    public void StoredBytes_CountTheArrays()
    {
        var w = MakeMatrix(300, 784, Mask.Random10, seed: 1);
        var nnz = w.Count(v => v != 0);
        Assert.Multiple(() =>
        {
            Assert.That(new DenseWeights(300, 784, w).StoredBytes, Is.EqualTo(4L * 300 * 784));
            Assert.That(CsrMatrix.FromDense(w, 300, 784).StoredBytes, Is.EqualTo((4L * 301) + (8L * nnz)));
            var nm = NofMMatrix.FromDense(MakeMatrix(300, 784, Mask.TwoOfFour, 2), 300, 784, 2, 4);
            Assert.That(nm.StoredBytes, Is.EqualTo(300L * 392 * 5), "2:4: 392 slots per row, 4 + 1 bytes each");
        });
    }

    [Test]
    public void Constructors_RefuseInconsistentArrays()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => new CsrMatrix(3, 3, [0, 2, 1, 2], [0, 1], [1f, 2f]), Throws.InstanceOf<ArgumentException>().With.Message.Contains("below row pointer"));
            Assert.That(() => new CsrMatrix(2, 3, [0, 1, 2], [0, 3], [1f, 2f]), Throws.InstanceOf<ArgumentException>().With.Message.Contains("outside [0, 3)"));
            Assert.That(() => new CsrMatrix(2, 3, [1, 1, 2], [0, 1], [1f, 2f]), Throws.InstanceOf<ArgumentException>().With.Message.Contains("from 0"));
            Assert.That(() => new CsrMatrix(2, 3, [0, 1], [0], [1f]), Throws.InstanceOf<ArgumentException>().With.Message.Contains("3 row pointers"));
            Assert.That(() => new NofMMatrix(1, 5, 2, 4, new float[4], [0, 1, 2, 1]), Throws.InstanceOf<ArgumentException>().With.Message.Contains("outside its group of 1"));
            Assert.That(() => new NofMMatrix(1, 4, 3, 2, new float[3], new byte[3]), Throws.InstanceOf<ArgumentException>().With.Message.Contains("N ≤ M"));
            Assert.That(() => NofMMatrix.FromDense([1f, 1f, 1f, 0f], 1, 4, 2, 4), Throws.InstanceOf<ArgumentException>().With.Message.Contains("not 2:4"));
            Assert.That(() => new BlockSparseMatrix(4, 4, 2, 2, [0, 1, 1], [2], new float[4]), Throws.InstanceOf<ArgumentException>().With.Message.Contains("Block column index 0 is 2, outside [0, 2)"));
            Assert.That(() => new BlockSparseMatrix(4, 4, 2, 2, [0, 1, 1], [0], new float[3]), Throws.InstanceOf<ArgumentException>().With.Message.Contains("values per tile"));
            Assert.That(() => new DenseWeights(2, 2, new float[3]), Throws.ArgumentException);
            var m = CsrMatrix.FromDense([1f, 0f, 0f, 1f], 2, 2);
            Assert.That(() => m.MultiplyVector(new float[3], new float[2]), Throws.InstanceOf<ArgumentException>().With.Message.Contains("x of 2"));
            Assert.That(() => m.Multiply(new float[4], 2, new float[3]), Throws.InstanceOf<ArgumentException>().With.Message.Contains("C of 4"));
        });
    }

    internal static IWeightMatrix Build(WeightFormat format, Mask mask, float[] w, int rows, int cols) => format switch
    {
        WeightFormat.Dense => new DenseWeights(rows, cols, (float[])w.Clone()),
        WeightFormat.Csr => CsrMatrix.FromDense(w, rows, cols),
        WeightFormat.NofM => mask switch
        {
            Mask.OneOfFour => NofMMatrix.FromDense(w, rows, cols, 1, 4),
            Mask.FourOfEight => NofMMatrix.FromDense(w, rows, cols, 4, 8),
            _ => NofMMatrix.FromDense(w, rows, cols, 2, 4),
        },
        _ => mask == Mask.Block1x4 && cols >= 4 ? BlockSparseMatrix.FromDense(w, rows, cols, 1, 4)
            : BlockSparseMatrix.FromDense(w, rows, cols, Math.Min(4, rows), 1),
    };

    /// <summary>A random matrix with the mask's zeros (values in ±[0.1, 1], so kept weights are never zero by chance).</summary>
    internal static float[] MakeMatrix(int rows, int cols, Mask mask, int seed)
    {
        var rng = new Random(seed);
        var w = new float[rows * cols];
        for (var i = 0; i < w.Length; i++)
        {
            w[i] = (float)((0.1 + (0.9 * rng.NextDouble())) * (rng.Next(2) == 0 ? -1 : 1));
        }

        for (var r = 0; r < rows; r++)
        {
            for (var j = 0; j < cols; j++)
            {
                var keep = mask switch
                {
                    Mask.Dense => true,
                    Mask.Random10 => rng.NextDouble() < 0.1,
                    Mask.Random50 => rng.NextDouble() < 0.5,
                    Mask.EmptyRows => r % 3 != 1 && rng.NextDouble() < 0.3,
                    Mask.AllZero => false,
                    Mask.TwoOfFour => (j % 4) == ((r + (j / 4)) % 4) || (j % 4) == ((r + (j / 4) + 2) % 4),
                    Mask.OneOfFour => (j % 4) == ((r * 7 + (j / 4)) % 4),
                    Mask.FourOfEight => ((j % 8) + r + (j / 8)) % 2 == 0,
                    Mask.Block4x1 => (((r / 4) * 7) + j) % 3 == 0,
                    _ => ((j / 4) + r) % 3 == 0,
                };
                if (!keep)
                {
                    w[(r * cols) + j] = 0;
                }
            }
        }

        return w;
    }

    private static float[] RandomVector(Random rng, int n) => Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2) - 1)).ToArray();

    /// <summary>max(c, 0) elementwise: a ReLU applied to a product is exact, so the product's bound still holds.</summary>
    internal static double[] Rectified(double[] c) => [.. c.Select(v => Math.Max(v, 0))];

    /// <summary>C = WB + b in float64 (B is cols × n).</summary>
    internal static double[] Reference(float[] w, int rows, int cols, float[] b, int n, float[]? bias)
    {
        var c = new double[rows * n];
        for (var r = 0; r < rows; r++)
        {
            for (var j = 0; j < n; j++)
            {
                double s = bias?[r] ?? 0;
                for (var k = 0; k < cols; k++)
                {
                    s += (double)w[(r * cols) + k] * b[(k * n) + j];
                }

                c[(r * n) + j] = s;
            }
        }

        return c;
    }

    internal static void AssertClose(float[] actual, double[] expected, float[] w, float[] b, int rows, int cols, int n, string what)
    {
        for (var r = 0; r < rows; r++)
        {
            var k = 1;
            for (var j = 0; j < cols; j++)
            {
                k += w[(r * cols) + j] != 0 ? 1 : 0;
            }

            for (var j = 0; j < n; j++)
            {
                double magnitude = 1;
                for (var q = 0; q < cols; q++)
                {
                    magnitude += Math.Abs((double)w[(r * cols) + q] * b[(q * n) + j]);
                }

                var bound = 2 * k * Math.ScaleB(1.0, -24) * magnitude;
                var i = (r * n) + j;
                if (!(Math.Abs(actual[i] - expected[i]) <= bound))
                {
                    Assert.Fail($"{what}: C[{r}, {j}] = {actual[i]:R}, float64 {expected[i]:R}, bound {bound:G3}");
                }
            }
        }
    }
}
