using WoodFisher.Kernels;
using WoodFisher.Models;

namespace WoodFisher.Pruning.Tests;

/// <summary>
/// Sizes beyond 32-bit offsets, end to end: [Explicit], a few minutes and ~4 GB. Run with
/// <c>nice dotnet test tests/WoodFisher.Pruning.Tests -c Release --filter "FullyQualifiedName~ScaleExplicitTests"</c>.
/// </summary>
[Explicit("d·c > 2³¹: minutes and ~4 GB of memory; see docs/scale.md")]
[NonParallelizable]
public class ScaleExplicitTests
{
    // d = 22·10⁶, c = 100: Σc² = d·c = 2.2·10⁹ > 2³¹ − 1 block entries (8.8 GB in float32), pruned under a 3 GiB budget,
    // so in two passes over groups of blocks. Oracle: blocks are independent, so for sampled blocks (the first, one in
    // the middle, the last, whose entries lie past 2³¹) the dense float64 inverse of λI + G_bᵀG_b/m gives the scores, and
    // the dense joint update of the block's pruned coordinates gives its new weights.
    [Test]
    public void TwoPassPrune_WithBlockEntriesBeyond2To31_MatchesDenseBlocks()
    {
        const int d = 22_000_000;
        const int c = 100;
        const int m = 8;
        const double lambda = 1e-2;
        Assert.That((long)d * c, Is.GreaterThan(int.MaxValue));
        var source = new GeneratedRows(m, d);
        var w = new double[d];
        for (var i = 0; i < d; i++)
        {
            w[i] = GeneratedRows.Value(-1, i);
        }

        var spec = EstimatorSpec.Parse($"woodfisher:block={c},damping={lambda},precision=float64");
        var options = new PrunerOptions { Method = PruningMethod.WoodFisher, Sparsity = 0.5 };
        PruningResult result;
        using (MemoryBudget.Override(3L << 30))
        {
            var plan = TensorPruning.Plan(source, options, spec)!;
            TestContext.Out.WriteLine(plan.Describe());
            Assert.That(plan.TwoPass, Is.True);
            result = TensorPruning.Prune(w, source, options, spec);
        }

        Assert.That(result.Mask.Count(k => !k), Is.EqualTo(MaskSelection.TargetCount(0.5, d)));
        var layout = BlockLayout.Create(d, c);
        foreach (var b in new[] { 0, layout.Count / 2, layout.Count - 1 })
        {
            var off = layout.Offset(b);
            var f = new double[c * c];
            for (var i = 0; i < c; i++)
            {
                for (var j = 0; j < c; j++)
                {
                    double s = 0;
                    for (var r = 0; r < m; r++)
                    {
                        s += (double)GeneratedRows.Value(r, off + i) * GeneratedRows.Value(r, off + j);
                    }

                    f[(i * c) + j] = (s / m) + (i == j ? lambda : 0);
                }
            }

            var hinv = Oracle.Inverse(f, c);
            var q = Enumerable.Range(0, c).Where(i => !result.Mask[off + i]).ToArray();
            var wb = w.AsSpan(off, c).ToArray();
            var updated = Oracle.JointUpdate(hinv, c, wb, q);
            for (var i = 0; i < c; i++)
            {
                Assert.That(result.Weights[off + i], Is.EqualTo(updated[i]).Within(1e-8), $"block {b} (entries from {layout.SquareOffset(b):N0}), weight {i}");
                Assert.That(result.Scores[off + i], Is.EqualTo(wb[i] * wb[i] / (2 * hinv[(i * c) + i])).Within(1e-9 * Math.Max(1, result.Scores[off + i])), $"block {b}, score {i}");
            }
        }
    }

    /// <summary>G generated on demand (deterministic hash of row and column), readable by rows and by columns.</summary>
    private sealed class GeneratedRows(int m, int d) : IColumnGradientSource
    {
        private long _next;

        public int Dimension => d;

        public long Count => m;

        public IReadOnlyList<int> Segments => [d];

        /// <summary>A value in [−0.5, 0.5), float32; row −1 gives the weights.</summary>
        public static float Value(long row, int column)
        {
            var h = unchecked(((ulong)(row + 2) * 0x9E3779B97F4A7C15UL) ^ ((ulong)column * 0xC2B2AE3D27D4EB4FUL));
            h ^= h >> 29;
            h *= 0xBF58476D1CE4E5B9UL;
            h ^= h >> 32;
            return (float)((h >> 40) / (double)(1UL << 24)) - 0.5f;
        }

        public int Read(Span<float> buffer, int maxRows)
        {
            var rows = (int)Math.Min(maxRows, m - _next);
            ReadColumns(_next, rows, 0, d, buffer);
            _next += rows;
            return rows;
        }

        public void Reset() => _next = 0;

        public void ReadColumns(long firstRow, int rows, int firstColumn, int columns, Span<float> destination)
        {
            for (var r = 0; r < rows; r++)
            {
                var dst = destination.Slice(r * columns, columns);
                for (var j = 0; j < columns; j++)
                {
                    dst[j] = Value(firstRow + r, firstColumn + j);
                }
            }
        }
    }
}
