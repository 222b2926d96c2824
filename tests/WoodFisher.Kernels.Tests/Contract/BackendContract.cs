using WoodFisher.Kernels;
using static WoodFisher.Kernels.Tests.Contract.DenseReference;

namespace WoodFisher.Kernels.Tests.Contract;

/// <summary>
/// The contract every <see cref="ICurvatureBackend"/> meets, run against each backend by a derived fixture
/// (<see cref="CpuBackendContract"/>, <see cref="IlgpuBackendContract"/>): every operation against a float64 dense
/// reference, the joint OBS update (including a numerically singular [F⁻¹]_QQ), every strategy through the builder, in
/// float32 and float64, and the same failures for the same bad input. Tolerances are relative to the largest reference
/// entry: float64 keeps ~1e-10 after tens of updates on these well-conditioned blocks (κ ≲ 50); float32 loses about
/// log₁₀(κ) of its ~7 digits, so 1e-4.
/// </summary>
public abstract partial class BackendContract
{
    protected const double Damping = 0.5;

    public static IEnumerable<Precision> Precisions => [Precision.Float32, Precision.Float64];

    private ICurvatureBackend? _backend;

    /// <summary>The backend under test (created on first use, once per fixture).</summary>
    protected ICurvatureBackend Backend => _backend ??= CreateBackend();

    /// <summary>Rows per rank-k step of the backend, so tests can cross step boundaries.</summary>
    protected abstract int RankKChunk { get; }

    protected abstract ICurvatureBackend CreateBackend();

    // Segments of 10 and 13 coordinates in blocks of 4: sizes 4, 4, 2 | 4, 4, 4, 1 (uneven last blocks, a 1 × 1 block).
    protected static BlockLayout Segmented() => BlockLayout.Create(23, 4, [10, 13]);

    protected static double Tolerance(Precision p) => p == Precision.Float64 ? 1e-10 : 1e-4;

    [OneTimeTearDown]
    public void DisposeTheBackend()
    {
        _backend?.Dispose();
        _backend = null;
    }

    [TestCaseSource(nameof(Precisions))]
    public void WriteThenRead_RoundTripsEveryBlock(Precision precision)
    {
        var layout = Segmented();
        using var storage = Backend.Allocate(layout, precision);
        var blocks = Gaussian(1, (int)layout.SquareLength);
        Backend.Write(storage, blocks);
        var all = new double[layout.SquareLength];
        Backend.Read(storage, all);
        var block = new double[16];
        Backend.ReadBlock(storage, 4, block);
        Assert.Multiple(() =>
        {
            Assert.That(MaxAbsDifference(all, blocks), Is.LessThanOrEqualTo(precision == Precision.Float64 ? 0 : 1e-6 * MaxAbs(blocks)));
            Assert.That(MaxAbsDifference(block, blocks.AsSpan((int)layout.SquareOffset(4), 16)), Is.LessThanOrEqualTo(1e-6 * MaxAbs(blocks)));
        });
    }

    [TestCaseSource(nameof(Precisions))]
    public void SetScaledIdentity_IsLambdaInverseTimesIdentityPerBlock(Precision precision)
    {
        var layout = Segmented();
        using var storage = Backend.Allocate(layout, precision);
        Backend.Write(storage, Gaussian(2, (int)layout.SquareLength));
        Backend.SetScaledIdentity(storage, 1 / Damping);
        var expected = DampedFisherInverse(layout, Damping, [], 0, 1);
        var all = new double[layout.SquareLength];
        Backend.Read(storage, all);
        Assert.That(all, Is.EqualTo(expected), () => "got " + string.Join(", ", all.Take(20)));
    }

    [Test]
    public void RankOneUpdate_MatchesHandComputedTwoByTwo()
    {
        // F⁻¹ = I, g = (1, 2), N = 1: u = (1, 2), N + gᵀu = 6, F⁻¹ − uuᵀ/6 = [[5/6, −1/3], [−1/3, 1/3]].
        var layout = BlockLayout.Create(2, 2);
        using var storage = Backend.Allocate(layout, Precision.Float64);
        Backend.SetScaledIdentity(storage, 1.0);
        Backend.RankOneUpdates(storage, [1.0, 2.0], 1, 1.0);
        var block = new double[4];
        Backend.ReadBlock(storage, 0, block);
        Assert.That(block, Is.EqualTo(new[] { 5.0 / 6, -1.0 / 3, -1.0 / 3, 1.0 / 3 }).Within(1e-15));
    }

    [TestCaseSource(nameof(Precisions))]
    public void RankOneUpdates_EqualDenseInverse(Precision precision)
    {
        const int rows = 12;
        var layout = Segmented();
        var g = Gaussian(3, rows * layout.Dimension);
        using var storage = Backend.Allocate(layout, precision);
        Backend.SetScaledIdentity(storage, 1 / Damping);
        Backend.RankOneUpdates(storage, g, rows, rows);
        AssertBlocksEqual(storage, DampedFisherInverse(layout, Damping, g, rows, rows), Tolerance(precision));
    }

    [TestCaseSource(nameof(Precisions))]
    public void RankKUpdate_EqualsDenseInverse_AcrossPartialChunks(Precision precision)
    {
        // 70 rows = two full rank-k steps of 32 and a partial one of 6, in two calls (the second continues the first).
        var rows = (2 * RankKChunk) + 6;
        var layout = Segmented();
        var d = layout.Dimension;
        var g = Gaussian(4, rows * d, 0.5);
        using var storage = Backend.Allocate(layout, precision);
        Backend.SetScaledIdentity(storage, 1 / Damping);
        Backend.RankKUpdate(storage, g.AsSpan(0, 40 * d), 40, rows);
        Backend.RankKUpdate(storage, g.AsSpan(40 * d), rows - 40, rows);

        AssertBlocksEqual(storage, DampedFisherInverse(layout, Damping, g, rows, rows), Tolerance(precision));
    }

    // Blocks of 150 and a last one of 77 span several tiles of the group kernels (on a GPU 128 coordinates × 32 gradients
    // for the product, 64 × 128 entries for the apply, 32 coordinates per Gram stage) and end inside one, and F is no
    // longer σI after the first step.
    [TestCaseSource(nameof(Precisions))]
    public void RankKUpdate_BlocksWiderThanATile_EqualDenseInverse(Precision precision)
    {
        var rows = (2 * RankKChunk) + 6;
        var layout = BlockLayout.Create(377, 150);
        var g = Gaussian(24, rows * layout.Dimension, 0.3);
        using var storage = Backend.Allocate(layout, precision);
        Backend.SetScaledIdentity(storage, 1 / Damping);
        Backend.RankKUpdate(storage, g, rows, rows);
        AssertBlocksEqual(storage, DampedFisherInverse(layout, Damping, g, rows, rows), Tolerance(precision));
    }

    // A fresh storage (σI) takes U = σGₖ for its first rank-k step; the same σI written through Write takes the general
    // product. A row times σI has one nonzero term, so the two must agree bit for bit.
    [TestCaseSource(nameof(Precisions))]
    public void RankKUpdate_FreshStorageShortcut_IsBitwiseTheGeneralProduct(Precision precision)
    {
        var rows = RankKChunk + 6;
        var layout = Segmented();
        var d = layout.Dimension;
        var g = Gaussian(14, rows * d, 0.5);
        var (fresh, written) = Oracle.FreshAndWrittenRankK(Backend, layout, precision, 1 / Damping, g, rows);
        Assert.That(fresh, Is.EqualTo(written));
        var expected = DampedFisherInverse(layout, Damping, g, rows, rows);
        Assert.That(MaxAbsDifference(fresh, expected), Is.LessThanOrEqualTo(Tolerance(precision) * MaxAbs(expected)));
    }

    [TestCaseSource(nameof(Precisions))]
    public void RankK_AgreesWithRankOne(Precision precision)
    {
        const int rows = 20;
        var layout = BlockLayout.Create(17, 6);
        var g = Gaussian(5, rows * layout.Dimension);
        using var one = Backend.Allocate(layout, precision);
        using var many = Backend.Allocate(layout, precision);
        Backend.SetScaledIdentity(one, 1 / Damping);
        Backend.SetScaledIdentity(many, 1 / Damping);
        Backend.RankOneUpdates(one, g, rows, rows);
        Backend.RankKUpdate(many, g, rows, rows);

        var expected = new double[layout.SquareLength];
        Backend.Read(one, expected);
        AssertBlocksEqual(many, expected, Tolerance(precision));
    }

    [TestCaseSource(nameof(Precisions))]
    public void Diagonal_IsTheDiagonalOfEveryBlock(Precision precision)
    {
        var layout = Segmented();
        var blocks = Gaussian(6, (int)layout.SquareLength);
        using var storage = Backend.Allocate(layout, precision);
        Backend.Write(storage, blocks);
        var diagonal = new double[layout.Dimension];
        Backend.Diagonal(storage, diagonal);
        var expected = new double[layout.Dimension];
        for (var b = 0; b < layout.Count; b++)
        {
            var c = layout.Size(b);
            for (var i = 0; i < c; i++)
            {
                expected[layout.Offset(b) + i] = blocks[layout.SquareOffset(b) + (i * c) + i];
            }
        }

        Assert.That(MaxAbsDifference(diagonal, expected), Is.LessThanOrEqualTo(1e-6 * MaxAbs(expected)));
    }

    [TestCaseSource(nameof(Precisions))]
    public void ReadSubMatrix_IsThoseEntriesOfTheBlock_InTheOrderGiven(Precision precision)
    {
        var layout = Segmented();
        using var storage = Backend.Allocate(layout, precision);
        Backend.Write(storage, Gaussian(5, (int)layout.SquareLength));
        var whole = new double[16];
        Backend.ReadBlock(storage, 3, whole);
        int[] local = [2, 0, 3];
        var expected = new double[9];
        for (var i = 0; i < 3; i++)
        {
            for (var j = 0; j < 3; j++)
            {
                expected[(i * 3) + j] = whole[(local[i] * 4) + local[j]];
            }
        }

        var sub = new double[9];
        Backend.ReadSubMatrix(storage, 3, local, sub);
        var single = new double[1];
        Backend.ReadSubMatrix(storage, 6, [0], single);
        var last = new double[1];
        Backend.ReadBlock(storage, 6, last);
        Assert.Multiple(() =>
        {
            // The same stored values, converted the same way: equal exactly.
            Assert.That(sub, Is.EqualTo(expected));
            Assert.That(single, Is.EqualTo(last));
            Assert.That(() => Backend.ReadSubMatrix(storage, 3, [4], new double[1]), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => Backend.ReadSubMatrix(storage, layout.Count, [0], new double[1]), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => Backend.ReadSubMatrix(storage, 3, [0, 1], new double[3]), Throws.ArgumentException);
        });
    }

    [TestCaseSource(nameof(Precisions))]
    public void ReadSubMatrices_AreEachPartsReadSubMatrix_InOrder(Precision precision)
    {
        var layout = Segmented();
        using var storage = Backend.Allocate(layout, precision);
        Backend.Write(storage, Gaussian(6, (int)layout.SquareLength));
        int[][] locals = [[2, 0, 3], [1], [], [3, 2, 1, 0]];
        var seen = new List<int>();
        Backend.ReadSubMatrices(storage, 3, locals, (i, sub) =>
        {
            seen.Add(i);
            var expected = new double[locals[i].Length * locals[i].Length];
            Backend.ReadSubMatrix(storage, 3, locals[i], expected);
            Assert.That(sub, Is.EqualTo(expected), $"part {i}");
        });
        Assert.Multiple(() =>
        {
            Assert.That(seen, Is.EqualTo(new[] { 0, 1, 2, 3 }));
            Assert.That(() => Backend.ReadSubMatrices(storage, 3, [[4]], (_, _) => { }), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => Backend.ReadSubMatrices(storage, layout.Count, [[0]], (_, _) => { }), Throws.InstanceOf<ArgumentOutOfRangeException>());
        });
    }

    [TestCaseSource(nameof(Precisions))]
    public void Multiply_EqualsDenseBlockDiagonalProduct(Precision precision)
    {
        const int count = 3;
        var layout = Segmented();
        var d = layout.Dimension;
        var blocks = Gaussian(7, (int)layout.SquareLength);
        var v = Gaussian(8, count * d);
        using var storage = Backend.Allocate(layout, precision);
        Backend.Write(storage, blocks);
        var result = new double[count * d];
        Backend.Multiply(storage, v, result, count);
        var expected = new double[count * d];
        for (var k = 0; k < count; k++)
        {
            for (var b = 0; b < layout.Count; b++)
            {
                var c = layout.Size(b);
                var off = layout.Offset(b);
                for (var i = 0; i < c; i++)
                {
                    for (var j = 0; j < c; j++)
                    {
                        expected[(k * d) + off + i] += blocks[layout.SquareOffset(b) + (i * c) + j] * v[(k * d) + off + j];
                    }
                }
            }
        }

        // float32 storage rounds blocks and v (~6e-8 each); a 4-term dot of O(1) values stays within 1e-5 of O(4).
        Assert.That(MaxAbsDifference(result, expected), Is.LessThanOrEqualTo(precision == Precision.Float64 ? 1e-12 : 1e-5 * MaxAbs(expected)));
    }

    [TestCaseSource(nameof(Precisions))]
    public void JointUpdate_SolvesConstrainedQuadratic(Precision precision)
    {
        const int rows = 30;
        var layout = Segmented();
        var d = layout.Dimension;
        var g = Gaussian(9, rows * d);
        var inverse = DampedFisherInverse(layout, Damping, g, rows, rows);
        using var storage = Backend.Allocate(layout, precision);
        Backend.Write(storage, inverse);
        var w = Gaussian(10, d);
        // Block 0: two of four; block 1: none; block 2: both (|Q| = c); block 6 (1 × 1): its only one; block 4: three of four.
        var remove = new bool[d];
        foreach (var q in (int[])[0, 3, 8, 9, 22, 18, 19, 21])
        {
            remove[q] = true;
        }

        var expected = (double[])w.Clone();
        for (var b = 0; b < layout.Count; b++)
        {
            var c = layout.Size(b);
            var off = layout.Offset(b);
            var q = Enumerable.Range(0, c).Where(i => remove[off + i]).ToArray();
            if (q.Length == 0)
            {
                continue;
            }

            var block = inverse.AsSpan((int)layout.SquareOffset(b), c * c).ToArray();
            var delta = ConstrainedStep(block, c, w.AsSpan(off, c).ToArray(), q);
            for (var i = 0; i < c; i++)
            {
                expected[off + i] += delta[i];
            }
        }

        var actual = (double[])w.Clone();
        Backend.ObsUpdate(storage, actual, remove.Select(r => !r).ToArray());
        Assert.Multiple(() =>
        {
            Assert.That(MaxAbsDifference(actual, expected), Is.LessThanOrEqualTo(Tolerance(precision) * MaxAbs(expected)));
            Assert.That(Enumerable.Range(0, d).Where(i => remove[i]).Select(i => actual[i]), Is.All.EqualTo(0.0));
            Assert.That(actual.AsSpan(4, 4).ToArray(), Is.EqualTo(w.AsSpan(4, 4).ToArray()), "block 1 has no removals");
        });
    }

    [Test]
    public void RankOneUpdates_ThrowNamingTheBlock_WhenDenominatorIsNotPositive()
    {
        var layout = BlockLayout.Create(6, 3);
        using var storage = Backend.Allocate(layout, Precision.Float64);
        var blocks = DampedFisherInverse(layout, 1.0, [], 0, 1);
        for (var i = 0; i < 3; i++)
        {
            blocks[9 + (i * 3) + i] = -1.0;
        }

        Backend.Write(storage, blocks);
        var g = new double[] { 1, 1, 1, 1, 1, 1 };
        Assert.That(() => Backend.RankOneUpdates(storage, g, 1, 1.0), Throws.TypeOf<BlockNotPositiveDefiniteException>().With.Property("Block").EqualTo(1));
    }

    [Test]
    public void RankKUpdate_ThrowsNamingTheBlock_WhenSystemIsIndefinite()
    {
        var layout = BlockLayout.Create(6, 3);
        using var storage = Backend.Allocate(layout, Precision.Float32);
        var blocks = DampedFisherInverse(layout, 1.0, [], 0, 1);
        for (var i = 0; i < 3; i++)
        {
            blocks[9 + (i * 3) + i] = -1.0;
        }

        Backend.Write(storage, blocks);
        var g = new double[] { 1, 1, 1, 1, 1, 1 };
        Assert.That(() => Backend.RankKUpdate(storage, g, 1, 1.0), Throws.TypeOf<BlockNotPositiveDefiniteException>().With.Property("Block").EqualTo(1));
    }

    [Test]
    public void ObsUpdate_ThrowsNamingTheBlock_WhenSubMatrixIsIndefinite()
    {
        var layout = BlockLayout.Create(6, 3);
        using var storage = Backend.Allocate(layout, Precision.Float64);
        var blocks = DampedFisherInverse(layout, 1.0, [], 0, 1);
        blocks[9 + 4] = -2.0;
        Backend.Write(storage, blocks);
        var w = new double[6];
        var remove = new bool[] { true, false, false, false, true, false };
        var mask = remove.Select(r => !r).ToArray();
        Assert.That(() => Backend.ObsUpdate(storage, w, mask), Throws.TypeOf<BlockNotPositiveDefiniteException>().With.Property("Block").EqualTo(1));
    }

    protected void AssertBlocksEqual(IBlockStorage storage, double[] expected, double relativeTolerance)
    {
        var actual = new double[expected.Length];
        Backend.Read(storage, actual);
        Assert.That(MaxAbsDifference(actual, expected), Is.LessThanOrEqualTo(relativeTolerance * MaxAbs(expected)));
    }
}
