using WoodFisher.Kernels;

namespace WoodFisher.Kernels.Tests;

[TestFixture]
public class QueryTests
{
    private const int D = 100;
    private const int C = 32;
    private const int M = 60;
    private const double Lambda = 1e-2;

    private static (WoodFisherInverse Inv, double[] G, double[][] Oracle) Build(Precision precision, WoodburyStrategy strategy = WoodburyStrategy.RankK)
    {
        var g = Oracle.RandomGradients(21, M, D);
        var options = new WoodFisherOptions { BlockSize = C, Damping = Lambda, Strategy = strategy, Precision = precision, Backend = BackendKind.Cpu };
        var inv = WoodFisherBuilder.Compute(g, M, D, options);
        return (inv, g, Oracle.BlockInverses(g, M, D, inv.Layout, Lambda, M));
    }

    private static double[] OracleMultiply(BlockLayout layout, double[][] oracle, double[] v)
    {
        var r = new double[v.Length];
        for (var b = 0; b < layout.Count; b++)
        {
            var c = layout.Size(b);
            var off = layout.Offset(b);
            for (var i = 0; i < c; i++)
            {
                for (var j = 0; j < c; j++)
                {
                    r[off + i] += oracle[b][(i * c) + j] * v[off + j];
                }
            }
        }

        return r;
    }

    [Test]
    public void ReadBlock_IntoReusedBuffer_EqualsBlock()
    {
        var (inv, _, _) = Build(Precision.Float32);
        using (inv)
        {
            var buffer = new double[C * C];
            for (var b = 0; b < inv.Layout.Count; b++)
            {
                var c = inv.Layout.Size(b);
                var dst = c == C ? buffer : new double[c * c];
                inv.ReadBlock(b, dst);
                Assert.That(dst, Is.EqualTo(inv.Block(b)), $"block {b}");
            }

            Assert.Throws<ArgumentException>(() => inv.ReadBlock(inv.Layout.Count - 1, buffer));
        }
    }

    [TestCase(BackendKind.Cpu)]
    [TestCase(BackendKind.Ilgpu)]
    public void SubMatrix_IsThoseEntriesOfTheBlock_OnEveryBackend(BackendKind backend)
    {
        var g = Oracle.RandomGradients(22, M, D);
        var options = new WoodFisherOptions { BlockSize = C, Damping = Lambda, Strategy = WoodburyStrategy.RankK, Precision = Precision.Float32, Backend = backend };
        using var inv = WoodFisherBuilder.Compute(g, M, D, options);
        var block = inv.Block(1);
        int[] q = [C + 7, C + 2, (2 * C) - 1];
        var sub = inv.SubMatrix(q);
        var expected = new double[9];
        for (var i = 0; i < 3; i++)
        {
            for (var j = 0; j < 3; j++)
            {
                expected[(i * 3) + j] = block[((q[i] - C) * C) + q[j] - C];
            }
        }

        Assert.Multiple(() =>
        {
            Assert.That(sub, Is.EqualTo(expected), "the stored entries, in the order given");
            Assert.That(inv.SubMatrix([]), Is.Empty);
            Assert.That(() => inv.SubMatrix([C - 1, C]), Throws.ArgumentException, "indices in two blocks");
        });
    }

    [TestCase(BackendKind.Cpu)]
    [TestCase(BackendKind.Ilgpu)]
    public void SubMatrices_AreEachPartsSubMatrix_AcrossBlocksAndInAnyOrder(BackendKind backend)
    {
        var g = Oracle.RandomGradients(23, M, D);
        var options = new WoodFisherOptions { BlockSize = C, Damping = Lambda, Strategy = WoodburyStrategy.RankK, Precision = Precision.Float32, Backend = backend };
        using var inv = WoodFisherBuilder.Compute(g, M, D, options);
        int[][] parts = [[C + 7, C + 2], [3], [], [(2 * C) - 1, C], [0, 1, 2], [D - 1]];
        var got = new double[parts.Length][];
        inv.SubMatrices(parts, (i, sub) =>
        {
            Assert.That(got[i], Is.Null, $"part {i} handed over twice");
            got[i] = sub;
        });
        for (var i = 0; i < parts.Length; i++)
        {
            Assert.That(got[i], Is.EqualTo(inv.SubMatrix(parts[i])), $"part {i}");
        }

        Assert.That(() => inv.SubMatrices([[C - 1, C]], (_, _) => { }), Throws.ArgumentException, "a part in two blocks");
    }

    // float32 storage: products round each of c terms (≈ c·2⁻²⁴ relative), on top of the build's own error.
    [TestCase(Precision.Float64, 1e-9)]
    [TestCase(Precision.Float32, 1e-4)]
    public void Ihvp_EqualsDenseSolve(Precision precision, double tol)
    {
        var (inv, _, oracle) = Build(precision);
        using (inv)
        {
            var v = Oracle.RandomGradients(22, 1, D);
            Assert.That(Oracle.RelativeError(inv.Multiply(v), OracleMultiply(inv.Layout, oracle, v)), Is.LessThan(tol));

            // several vectors at once go through the GEMM path
            const int count = 6;
            var vs = Oracle.RandomGradients(23, count, D);
            var rs = new double[count * D];
            inv.Multiply(vs, rs, count);
            for (var k = 0; k < count; k++)
            {
                var expect = OracleMultiply(inv.Layout, oracle, vs.AsSpan(k * D, D).ToArray());
                Assert.That(Oracle.RelativeError(rs.AsSpan(k * D, D), expect), Is.LessThan(tol), $"vector {k}");
            }

            var q = inv.QuadraticForm(v);
            var expectQ = OracleMultiply(inv.Layout, oracle, v).Zip(v, (a, b) => a * b).Sum();
            Assert.That(q, Is.EqualTo(expectQ).Within(tol * Math.Abs(expectQ) * 10));
        }
    }

    [Test]
    public void DiagonalColumnAndSubMatrix_EqualOracleEntries()
    {
        var (inv, _, oracle) = Build(Precision.Float64);
        using (inv)
        {
            var diag = inv.Diagonal();
            var (b, local) = inv.Layout.Locate(70);
            var c = inv.Layout.Size(b);
            var col = inv.Column(70);
            int[] q = [65, 70, 71];
            var sub = inv.SubMatrix(q);
            var off = inv.Layout.Offset(b);
            Assert.Multiple(() =>
            {
                Assert.That(diag[70], Is.EqualTo(oracle[b][(local * c) + local]).Within(1e-9 * diag[70]));
                Assert.That(diag[99], Is.EqualTo(oracle[3][(3 * 4) + 3]).Within(1e-9 * diag[99]));
                for (var i = 0; i < c; i++)
                {
                    Assert.That(col[i], Is.EqualTo(oracle[b][(i * c) + local]).Within(1e-9 * diag[70]));
                }

                for (var i = 0; i < 3; i++)
                {
                    for (var j = 0; j < 3; j++)
                    {
                        Assert.That(sub[(i * 3) + j], Is.EqualTo(oracle[b][((q[i] - off) * c) + (q[j] - off)]).Within(1e-9 * diag[70]));
                    }
                }
            });
            Assert.That(() => inv.SubMatrix([10, 70]), Throws.ArgumentException);
        }
    }

    /// <summary>
    /// Per block, δ minimizes ½δᵀF̂δ subject to (w + δ)_Q = 0: the KKT system [F̂ E_Q; E_Qᵀ 0][δ; μ] = [0; −w_Q],
    /// solved directly on F̂ (not on its inverse).
    /// </summary>
    [TestCase(Precision.Float64, 1e-8)]
    [TestCase(Precision.Float32, 1e-3)]
    public void ObsUpdate_SolvesConstrainedQuadratic(Precision precision, double tol)
    {
        var (inv, g, _) = Build(precision);
        using (inv)
        {
            var w = Oracle.RandomGradients(24, 1, D);
            var remove = new bool[D];
            foreach (var i in new[] { 0, 5, 6, 31, 40, 41, 42, 43, 60, 97 })
            {
                remove[i] = true;
            }

            var updated = (double[])w.Clone();
            inv.ObsUpdate(updated, remove.Select(r => !r).ToArray());

            var layout = inv.Layout;
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

                var f = Oracle.Fisher(g, M, D, layout, b, Lambda, M);
                var n = c + q.Length;
                var kkt = new double[n * n];
                var rhs = new double[n];
                for (var i = 0; i < c; i++)
                {
                    for (var j = 0; j < c; j++)
                    {
                        kkt[(i * n) + j] = f[(i * c) + j];
                    }
                }

                for (var k = 0; k < q.Length; k++)
                {
                    kkt[(q[k] * n) + c + k] = 1;
                    kkt[((c + k) * n) + q[k]] = 1;
                    rhs[c + k] = -w[off + q[k]];
                }

                var sol = Oracle.Solve(kkt, n, rhs);
                for (var i = 0; i < c; i++)
                {
                    expected[off + i] = w[off + i] + sol[i];
                }
            }

            Assert.Multiple(() =>
            {
                for (var i = 0; i < D; i++)
                {
                    if (remove[i])
                    {
                        Assert.That(updated[i], Is.EqualTo(0.0), $"w[{i}] must be exactly zero");
                    }
                }

                Assert.That(Oracle.RelativeError(updated, expected), Is.LessThan(tol));
                Assert.That(updated.AsSpan(64, 32).ToArray().Where((_, i) => !remove[64 + i]), Is.Not.All.EqualTo(0.0));
            });
        }
    }

    [Test]
    public void ObsUpdate_EmptyMask_LeavesWeightsUntouched()
    {
        var (inv, _, _) = Build(Precision.Float64);
        using (inv)
        {
            var w = Oracle.RandomGradients(25, 1, D);
            var copy = (double[])w.Clone();
            inv.ObsUpdate(copy, Enumerable.Repeat(true, D).ToArray());
            Assert.That(copy, Is.EqualTo(w));
        }
    }
}
