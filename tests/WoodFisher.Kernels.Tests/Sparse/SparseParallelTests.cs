using WoodFisher.Kernels.Sparse;

namespace WoodFisher.Kernels.Tests.Sparse;

/// <summary>
/// The split of a product into pieces taken by the caller and its helpers: every (row, column) of the output is covered by
/// exactly one piece, row boundaries fall on whole passes of the row grain, and a failing piece surfaces as itself.
/// </summary>
public sealed class SparseParallelTests
{
    private const long Large = 64 * SparseParallel.Threshold;

    [TestCase(300, 64, 1, false)]
    [TestCase(147, 64, 4, false)]
    [TestCase(9, 200, 4, false)]
    [TestCase(1000, 3, 1, true)]
    [TestCase(6, 20000, 1, false)]
    [TestCase(1, 5000, 1, false)]
    public void Pieces_CoverEveryCellOnce(int rows, int n, int grain, bool weighted)
    {
        // Row work rising with the row index (as CSR row pointers of rows with more and more entries).
        var rowWork = weighted ? Enumerable.Range(0, rows + 1).Select(r => r * (r + 1) / 2).ToArray() : null;
        var hits = new int[rows * n];
        var ranges = new List<(int R0, int R1, int J0, int J1)>();
        SparseParallel.For(rows, n, Large, (r0, r1, j0, j1) =>
        {
            lock (ranges)
            {
                ranges.Add((r0, r1, j0, j1));
            }

            for (var r = r0; r < r1; r++)
            {
                for (var j = j0; j < j1; j++)
                {
                    Interlocked.Increment(ref hits[(r * n) + j]);
                }
            }
        }, rowWork, grain);

        Assert.That(hits, Is.All.EqualTo(1), $"{ranges.Count} pieces");
        foreach (var (r0, r1, _, _) in ranges)
        {
            Assert.That(r0 % grain == 0 && (r1 % grain == 0 || r1 == rows), Is.True, $"rows [{r0}, {r1}) with grain {grain}");
        }

        if (Environment.ProcessorCount > 1)
        {
            Assert.That(ranges, Has.Count.GreaterThan(1), "a product this large is split");
        }
    }

    [Test]
    public void SmallProduct_RunsAsOnePieceOnTheCaller()
    {
        var caller = Environment.CurrentManagedThreadId;
        var calls = new List<(int, int, int, int, int)>();
        SparseParallel.For(100, 64, SparseParallel.Threshold - 1, (r0, r1, j0, j1) => calls.Add((r0, r1, j0, j1, Environment.CurrentManagedThreadId)));
        Assert.That(calls, Is.EqualTo(new[] { (0, 100, 0, 64, caller) }));
    }

    [Test]
    public void FailingPiece_IsRethrownUnwrapped_AfterTheOthersFinish()
    {
        var finished = 0;
        var pieces = 0;
        var e = Assert.Throws<InvalidOperationException>(() => SparseParallel.For(400, 64, Large, (r0, r1, j0, j1) =>
        {
            Interlocked.Increment(ref pieces);
            if (r0 == 0)
            {
                throw new InvalidOperationException("piece 0");
            }

            Thread.Sleep(1);
            Interlocked.Increment(ref finished);
        }));
        Assert.That(e!.Message, Is.EqualTo("piece 0"));
        Assert.That(Volatile.Read(ref finished), Is.EqualTo(pieces - 1), "every other piece ran to its end before the call returned");
    }
}
