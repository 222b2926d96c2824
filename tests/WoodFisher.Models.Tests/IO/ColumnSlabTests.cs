using WoodFisher.IO;
using WoodFisher.Kernels;

namespace WoodFisher.Models.Tests.IO;

/// <summary>
/// Reading G by columns (<see cref="NpyGradientSource.ReadColumns"/>, <see cref="ColumnSlabReader"/>) against reading whole
/// rows, on files NumPy wrote (float32 and float64, with NumPy's own header padding).
/// </summary>
public class ColumnSlabTests
{
    private const int M = 9;
    private const int D = 37;

    private static float[] NumPyFile(TempDir dir, string dtype)
    {
        var path = dir.File("g.npy");
        Python.Run($"np.save(sys.argv[1], ((np.arange({M * D}).reshape({M}, {D}) * 0.37) % 5 - 2.5).astype(np.{dtype}))", path);
        using var rows = new NpyGradientSource(path);
        var all = new float[M * D];
        Assert.That(rows.Read(all, M), Is.EqualTo(M));
        return all;
    }

    [TestCase("float32")]
    [TestCase("float64")]
    public void ReadColumns_EqualsTheColumnsOfWholeRows(string dtype)
    {
        using var dir = new TempDir();
        var all = NumPyFile(dir, dtype);
        using var source = new NpyGradientSource(dir.File("g.npy"));
        foreach (var (row0, rows, col0, cols) in new[] { (0L, M, 0, D), (2L, 3, 5, 11), (8L, 1, D - 1, 1), (4L, 5, 0, 2) })
        {
            var slab = new float[rows * cols];
            source.ReadColumns(row0, rows, col0, cols, slab);
            for (var r = 0; r < rows; r++)
            {
                Assert.That(slab.AsSpan(r * cols, cols).ToArray(), Is.EqualTo(all.AsSpan((int)((row0 + r) * D) + col0, cols).ToArray()), $"row {row0 + r}, columns [{col0}, {col0 + cols})");
            }
        }

        Assert.That(() => source.ReadColumns(7, 3, 0, 1, new float[3]), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => source.ReadColumns(0, 1, D - 1, 2, new float[2]), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    // Both ways of reading: by columns from the file, and whole rows streamed from a source that cannot seek.
    [TestCase(true)]
    [TestCase(false)]
    public void SlabReader_GivesEveryGroupsRowsInPieces(bool byColumns)
    {
        using var dir = new TempDir();
        var all = NumPyFile(dir, "float32");
        using var file = new NpyGradientSource(dir.File("g.npy"));
        IGradientSource source = byColumns ? file : new RowsOnly(file);
        var layout = BlockLayout.Create(D, 5);
        BlockRange[] groups = [BlockRange.Of(layout, 0, 2), BlockRange.Of(layout, 2, 3), BlockRange.Of(layout, 5, layout.Count - 5)];
        using var reader = new ColumnSlabReader(source, groups, 4);
        var seen = new List<(int Group, long Row)>();
        while (reader.Next(out var piece))
        {
            var g = groups[piece.Group];
            for (var r = 0; r < piece.Rows; r++)
            {
                var row = piece.FirstRow + r;
                Assert.That(piece.Data.Span.Slice(r * g.Length, g.Length).ToArray(), Is.EqualTo(all.AsSpan((int)(row * D) + g.Start, g.Length).ToArray()));
                seen.Add((piece.Group, row));
            }

            Assert.That(piece.LastOfGroup, Is.EqualTo(piece.FirstRow + piece.Rows == M));
        }

        Assert.That(seen, Is.EqualTo(groups.SelectMany((_, g) => Enumerable.Range(0, M).Select(r => (g, (long)r)))));
    }

    [Test]
    public void SlabReader_ATruncatedFile_FailsWithTheReadersError()
    {
        using var dir = new TempDir();
        NumPyFile(dir, "float32");
        var path = dir.File("g.npy");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(dir.File("cut.npy"), bytes[..^40]);
        Assert.That(() =>
        {
            using var source = new NpyGradientSource(dir.File("cut.npy"));
            using var reader = new ColumnSlabReader(source, [BlockRange.Of(BlockLayout.Create(D, D), 0, 1)], 4);
            while (reader.Next(out _))
            {
            }
        }, Throws.InstanceOf<InvalidDataException>());
    }

    /// <summary>Hides <see cref="IColumnGradientSource"/>: rows only, as a model's gradients come.</summary>
    private sealed class RowsOnly(IGradientSource inner) : IGradientSource
    {
        public int Dimension => inner.Dimension;

        public long Count => inner.Count;

        public IReadOnlyList<int> Segments => inner.Segments;

        public int Read(Span<float> buffer, int maxRows) => inner.Read(buffer, maxRows);

        public void Reset() => inner.Reset();
    }
}
