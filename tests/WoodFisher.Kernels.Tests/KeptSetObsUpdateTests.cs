namespace WoodFisher.Kernels.Tests;

// The joint OBS update solved on the kept coordinates from the rows (an inverse built from factors) against the float64
// oracle of the F⁻¹ form: F̂ = λI + GᵀG/N per block from the same float32-rounded rows, inverted by Gauss–Jordan, and
// δw = −F̂⁻¹_{:,Q}([F̂⁻¹]_QQ)⁻¹w_Q. The two forms are equal in exact arithmetic.
public class KeptSetObsUpdateTests
{
    private const int D = 200, M = 150, C = 64;
    private const double Lambda = 1e-2;

    // Block 0 keeps 4 of 64 (the kept-set form), block 1 keeps 44 (the form on F⁻¹), block 2 keeps none, block 3 (8
    // coordinates) loses none.
    private static bool[] Mask()
    {
        var mask = Enumerable.Repeat(true, D).ToArray();
        for (var j = 0; j < 60; j++)
        {
            mask[(j * 7) % 64] = false;
        }

        for (var j = 0; j < 20; j++)
        {
            mask[64 + (j * 3)] = false;
        }

        Array.Fill(mask, false, 128, 64);
        return mask;
    }

    private static (double[] Rows, double[] Weights) Problem()
    {
        var rows = Array.ConvertAll(Oracle.RandomGradients(11, M, D), v => (double)(float)v);
        var rng = new Random(3);
        var w = new double[D];
        for (var j = 0; j < D; j++)
        {
            w[j] = (rng.NextDouble() * 2) - 1;
        }

        return (rows, w);
    }

    private static double[] OracleUpdate(double[] rows, double[] w, bool[] mask)
    {
        var layout = BlockLayout.Create(D, C);
        var result = (double[])w.Clone();
        for (var b = 0; b < layout.Count; b++)
        {
            var c = layout.Size(b);
            var off = (int)layout.Offset(b);
            var inv = Oracle.Inverse(Oracle.Fisher(rows, M, D, layout, b, Lambda, M), c);
            var q = Enumerable.Range(0, c).Where(j => !mask[off + j]).ToArray();
            if (q.Length == 0)
            {
                continue;
            }

            var qq = new double[q.Length * q.Length];
            for (var i = 0; i < q.Length; i++)
            {
                for (var j = 0; j < q.Length; j++)
                {
                    qq[(i * q.Length) + j] = inv[(q[i] * c) + q[j]];
                }
            }

            var alpha = Oracle.Solve(qq, q.Length, [.. q.Select(j => w[off + j])]);
            for (var r = 0; r < c; r++)
            {
                var delta = 0.0;
                for (var i = 0; i < q.Length; i++)
                {
                    delta += inv[(r * c) + q[i]] * alpha[i];
                }

                result[off + r] = mask[off + r] ? w[off + r] - delta : 0;
            }
        }

        return result;
    }

    private static WoodFisherInverse FromFactors(double[] rows, BackendKind backend = BackendKind.Cpu)
    {
        var options = new WoodFisherOptions { BlockSize = C, Damping = Lambda, Strategy = WoodburyStrategy.Dense, Backend = backend };
        using var builder = new WoodFisherBuilder(D, options, M);
        builder.AddFactors(new RowMajorFactors(Array.ConvertAll(rows, v => (float)v), M, D));
        return builder.Build();
    }

    // Block 0 is solved on its 4 kept coordinates: float64 sums but for G_KᵀG_K's float32 panels (relative error about
    // √256·2⁻²⁴ ≈ 10⁻⁶ of F̂_KK, condition number below 10 here; the step is below 1), so 10⁻⁶ (8·10⁻⁹ seen). Block 1 uses
    // F̂⁻¹ stored in float32 (κ(F̂) ≈ 20 for 150 random rows of 64 coordinates, times 2⁻²⁴ and the step): 10⁻⁵.
    [TestCase(BackendKind.Cpu)]
    [TestCase(BackendKind.Ilgpu)]
    public void ObsUpdate_FromFactors_MatchesTheFloat64Oracle(BackendKind backend)
    {
        var (rows, w) = Problem();
        var mask = Mask();
        Assert.That(JointObsUpdate.PrefersKeptSet(C, 60, M), Is.True, "block 0 takes the kept-set form");
        Assert.That(JointObsUpdate.PrefersKeptSet(C, 20, M), Is.False, "block 1 takes the form on F⁻¹");
        var expected = OracleUpdate(rows, w, mask);
        using var inverse = FromFactors(rows, backend);
        var actual = (double[])w.Clone();
        inverse.ObsUpdate(actual, mask);
        Assert.Multiple(() =>
        {
            Assert.That(actual[..64], Is.EqualTo(expected[..64]).Within(1e-6), "kept-set block");
            Assert.That(actual[64..128], Is.EqualTo(expected[64..128]).Within(1e-5), "block on F⁻¹");
            Assert.That(actual[128..192], Is.All.EqualTo(0.0), "a block with nothing kept");
            Assert.That(actual[192..], Is.EqualTo(w[192..]), "a block with nothing removed is untouched");
            for (var j = 0; j < D; j++)
            {
                if (!mask[j])
                {
                    Assert.That(actual[j], Is.EqualTo(0.0), $"pruned weight {j} is exactly zero");
                }
            }
        });
    }

    // The same rows added as entries keep no rows, so the whole update runs on F̂⁻¹: both forms agree to float32 storage.
    [Test]
    public void ObsUpdate_FromFactors_AgreesWithTheRowFedInverse()
    {
        var (rows, w) = Problem();
        var mask = Mask();
        var options = new WoodFisherOptions { BlockSize = C, Damping = Lambda, Strategy = WoodburyStrategy.Dense };
        using var builder = new WoodFisherBuilder(D, options, M);
        builder.Add(Array.ConvertAll(rows, v => (float)v), M);
        using var fromRows = builder.Build();
        using var fromFactors = FromFactors(rows);
        var a = (double[])w.Clone();
        var b = (double[])w.Clone();
        fromRows.ObsUpdate(a, mask);
        fromFactors.ObsUpdate(b, mask);
        Assert.That(b, Is.EqualTo(a).Within(2e-5), "each within 10⁻⁵ of the oracle");
    }

    [Test]
    public void PrefersKeptSet_WhenFewCoordinatesAreKept()
    {
        Assert.Multiple(() =>
        {
            Assert.That(JointObsUpdate.PrefersKeptSet(400, 0, 1000), Is.False, "nothing removed");
            Assert.That(JointObsUpdate.PrefersKeptSet(400, 400, 1000), Is.True, "nothing kept");
            Assert.That(JointObsUpdate.PrefersKeptSet(400, 360, 1000), Is.True, "90% of a block of 400 from 1,000 rows");
            Assert.That(JointObsUpdate.PrefersKeptSet(400, 200, 1000), Is.False, "half");
            Assert.That(JointObsUpdate.PrefersKeptSet(400, 360, 100_000), Is.False, "many rows cost more than the q × q solve");
        });
    }
}
