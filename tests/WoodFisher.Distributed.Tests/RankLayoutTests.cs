using WoodFisher.IO;
using WoodFisher.Kernels;

namespace WoodFisher.Distributed.Tests;

/// <summary>
/// Block ranges (their slices are the global blocks, their split is balanced) and the column-slab reader (its rows are
/// the columns of the full rows <see cref="NpyRowReader"/> reads).
/// </summary>
public class RankLayoutTests
{
    [Test]
    public void Slice_HasExactlyTheGlobalBlocks_ShiftedToTheRange()
    {
        var layout = BlockLayout.Create(1000, 64, [130, 5, 600, 265]);
        var rng = new Random(1);
        for (var trial = 0; trial < 50; trial++)
        {
            var first = rng.Next(layout.Count);
            var range = BlockRange.Of(layout, first, rng.Next(1, layout.Count - first + 1));
            var slice = range.Slice(layout);
            Assert.That(slice.Count, Is.EqualTo(range.BlockCount));
            Assert.That(slice.Dimension, Is.EqualTo(range.Length));
            for (var b = 0; b < slice.Count; b++)
            {
                Assert.That(slice.Offset(b) + range.Start, Is.EqualTo(layout.Offset(first + b)));
                Assert.That(slice.Size(b), Is.EqualTo(layout.Size(first + b)));
            }
        }
    }

    [Test]
    public void Balance_TilesTheLayout_AndNoPartExceedsItsShareByMoreThanOneBlock([Values(1, 2, 3, 7, 40)] int parts)
    {
        var layout = BlockLayout.Create(10_000, 512, [3000, 77, 6923]);
        double Cost(int b) => RankPlan.BlockCost(layout.Size(b), 64, WoodburyStrategy.RankK);
        var ranges = BlockRange.Balance(layout, parts, Cost);
        Assert.That(ranges, Has.Length.EqualTo(parts));
        var next = 0;
        var nextBlock = 0;
        foreach (var r in ranges)
        {
            Assert.That(r.Start, Is.EqualTo(next));
            Assert.That(r.FirstBlock, Is.EqualTo(nextBlock));
            next = r.End;
            nextBlock += r.BlockCount;
        }

        Assert.That(next, Is.EqualTo(layout.Dimension));
        var total = Enumerable.Range(0, layout.Count).Sum(Cost);
        var largest = Enumerable.Range(0, layout.Count).Max(Cost);
        foreach (var r in ranges)
        {
            var cost = Enumerable.Range(r.FirstBlock, r.BlockCount).Sum(Cost);
            Assert.That(cost, Is.LessThanOrEqualTo((total / parts) + largest + 1e-6));
        }
    }

    [Test]
    public void Balance_EqualBlocks_SplitsEvenly()
    {
        var layout = BlockLayout.Create(4 * 100, 100);
        var ranges = BlockRange.Balance(layout, 3, _ => 1);
        Assert.That(ranges.Select(r => r.BlockCount), Is.EquivalentTo(new[] { 1, 2, 1 }));
        Assert.That(BlockRange.Balance(layout, 2, _ => 1).Select(r => r.Length), Is.EqualTo(new[] { 200, 200 }));
    }

    [Test]
    public void RankPlan_ResolvesAutoForTheWholeProblem()
    {
        var plan = RankPlan.Create(1040, [1000, 40], 100, 200, 4);
        Assert.That(plan.Strategy, Is.EqualTo(StrategyCostModel.Default.Choose(BlockLayout.Create(1040, 100, [1000, 40]), 200, Precision.Float32)));
        Assert.That(plan.Ranges[^1].Segments(plan.Layout), Does.Contain(40));
    }

    [TestCase(DType.Float32)]
    [TestCase(DType.Float64)]
    public void ColumnSlab_ReadsTheColumnsOfTheFullRows(DType dtype)
    {
        var path = Path.Combine(Path.GetTempPath(), $"wf-slab-{Guid.NewGuid():N}.npy");
        try
        {
            const int m = 7, d = 33;
            var values = Enumerable.Range(0, m * d).Select(i => (i * 0.37) - 40).ToArray();
            if (dtype == DType.Float32)
                Npy.Write(path, values.Select(v => (float)v).ToArray(), m, d);
            else
                Npy.Write(path, values, m, d);
            var full = new float[m * d];
            using (var reader = new NpyRowReader(path))
                reader.ReadRows(full, m);
            foreach (var (lo, n) in new[] { (0, 33), (5, 11), (32, 1), (0, 1), (10, 0) })
            {
                using var slab = new NpyColumnSlab(path, lo, n);
                var rows = new float[m * n];
                var got = 0;
                while (got < m)
                {
                    var k = slab.ReadRows(rows.AsSpan(got * n), 3);
                    if (k == 0)
                        break;
                    got += k;
                }

                Assert.That(got, Is.EqualTo(n == 0 ? 0 : m));
                for (var r = 0; r < got; r++)
                    Assert.That(rows.AsSpan(r * n, n).ToArray(), Is.EqualTo(full.AsSpan((r * d) + lo, n).ToArray()), $"row {r} of [{lo}, {lo + n})");
                if (n > 0)
                {
                    var exact = new double[m * n];
                    slab.Seek(0);
                    Assert.That(slab.ReadRows(exact, m), Is.EqualTo(m));
                    var expected = dtype == DType.Float64 ? values[((m - 1) * d) + lo] : (float)values[((m - 1) * d) + lo];
                    Assert.That(exact[(m - 1) * n], Is.EqualTo(expected), "float64 reads keep a float64 file's bits");
                }
            }

            Assert.Throws<ArgumentOutOfRangeException>(() => new NpyColumnSlab(path, 30, 4).Dispose());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void ColumnRange_OfWholeRows_EqualsTheColumnSlabOfTheSameFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"wf-range-{Guid.NewGuid():N}.npy");
        try
        {
            const int m = 9, d = 41;
            Npy.Write(path, Enumerable.Range(0, m * d).Select(i => (float)((i * 0.61) - 100)).ToArray(), m, d);
            foreach (var (lo, n, segments) in new (int, int, int[]?)[] { (0, 41, null), (7, 20, [3, 17]), (40, 1, null) })
            {
                using var whole = new NpyGradientSource(path);
                var range = new ColumnRangeSource(whole, lo, n, segments);
                using var slab = new NpyColumnSlabSource(path, lo, n, segments);
                Assert.That((range.Dimension, range.Count, range.Segments), Is.EqualTo((slab.Dimension, slab.Count, slab.Segments)));
                for (var pass = 0; pass < 2; pass++)
                {
                    var got = new float[m * n];
                    var expected = new float[m * n];
                    Assert.That(range.Read(got, 4) + range.Read(got.AsSpan(4 * n), m), Is.EqualTo(m), "rows in two reads");
                    Assert.That(slab.Read(expected, m), Is.EqualTo(m));
                    Assert.That(got, Is.EqualTo(expected), $"[{lo}, {lo + n}), pass {pass}");
                    Assert.That(range.Read(got, 1), Is.Zero, "exhausted");
                    range.Reset();
                    slab.Reset();
                }
            }

            using var g = new NpyGradientSource(path);
            Assert.Throws<ArgumentException>(() => _ = new ColumnRangeSource(g, 40, 2));
            Assert.Throws<ArgumentException>(() => _ = new ColumnRangeSource(g, 0, 10, [4, 5]));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void ColumnSlab_TruncatedFile_NamesTheFileAndTheByte()
    {
        var path = Path.Combine(Path.GetTempPath(), $"wf-slab-{Guid.NewGuid():N}.npy");
        try
        {
            Npy.Write(path, new float[4 * 10], 4, 10);
            var ex = Assert.Throws<InvalidDataException>(() =>
            {
                using var f = new FileStream(path, FileMode.Open);
                f.SetLength(f.Length - 8);
                f.Dispose();
                using var slab = new NpyColumnSlab(path, 8, 2);
            });
            Assert.That(ex!.Message, Does.Contain(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
