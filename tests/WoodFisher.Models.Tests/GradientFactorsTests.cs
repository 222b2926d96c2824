using WoodFisher.Kernels;

namespace WoodFisher.Models.Tests;

// Per-sample gradients of Linear layers as factors (inputs aₙ and output gradients δₙ, row n = δₙaₙᵀ) must multiply out to
// the very float32 rows the batched backward pass writes: the same products, so the comparison is bit for bit (both run
// the forward and backward passes in the same chunks of samples).
public class GradientFactorsTests
{
    private static int[] Bits(float[] v) => Array.ConvertAll(v, BitConverter.SingleToInt32Bits);

    [TestCase("mlp:12-9-7-4", false, null)]
    [TestCase("mlp:12-9-7-4", true, null)]
    [TestCase("mlp:12-9-7-4", true, 5)]
    [TestCase("mlp:10-6-3:nobias", true, 2)]
    public void Factors_MultiplyOutToTheRows_BitForBit(string spec, bool biases, int? seed)
    {
        var model = ModelFactory.Create(spec, seed: 3);
        var (x, y) = TestData.Random(40, model.InputShape[0], model.NumClasses, 4);
        var source = new PerSampleGradientSource(model, x, y, 33, ParameterSelection<float>.Prunable(model, biases), shuffleSeed: seed);
        var d = source.Dimension;
        var rows = new float[33 * d];
        Assert.That(source.Read(rows, 33), Is.EqualTo(33));

        var factors = source.Factors();
        Assert.That(factors, Is.Not.Null);
        Assert.That(factors!.Rows, Is.EqualTo(33));
        Assert.That(factors.Dimension, Is.EqualTo(d));
        Assert.That(source.FactorBytes, Is.GreaterThanOrEqualTo(factors.Bytes), "the plan's estimate bounds what is held");
        var all = new float[33 * d];
        factors.Gather(0, 33, 0, d, all);
        Assert.That(Bits(all), Is.EqualTo(Bits(rows)));

        // A window of rows and coordinates that starts and ends inside weight rows and crosses a layer boundary.
        int r0 = 4, nr = 11, c0 = 5, nc = d - 9;
        var part = new float[nr * nc];
        factors.Gather(r0, nr, c0, nc, part);
        for (var r = 0; r < nr; r++)
        {
            Assert.That(Bits(part.AsSpan(r * nc, nc).ToArray()), Is.EqualTo(Bits(rows.AsSpan(((r0 + r) * d) + c0, nc).ToArray())), $"row {r0 + r}");
        }
    }

    private static bool IsZero(ReadOnlySpan<float> row)
    {
        foreach (var v in row)
        {
            if (v != 0)
                return false;
        }
        return true;
    }

    // GatherNonZero leaves out, without multiplying them out, rows whose output gradients are 0 for every unit of the
    // window (a ReLU unit that was off): what it writes, in order, must be exactly the materialised rows of the window that
    // are not ±0 throughout, bit for bit, plus at most rows that are (it may keep a row zero through its inputs).
    [TestCase(0, 12)]
    [TestCase(12 * 4, 12)]
    [TestCase(5, 30)]
    [TestCase(0, -1)]
    public void GatherNonZero_WritesTheNonZeroRows_BitForBit(int c0, int nc)
    {
        var model = ModelFactory.Create("mlp:12-9-7-4", seed: 3);
        var (x, y) = TestData.Random(40, 12, 4, 4);
        var source = new PerSampleGradientSource(model, x, y, 33, ParameterSelection<float>.Prunable(model, includeBiases: true));
        var d = source.Dimension;
        nc = nc < 0 ? d : nc;
        var rows = new float[33 * d];
        source.Read(rows, 33);
        var factors = source.Factors()!;
        var kept = new float[33 * nc];
        var count = factors.GatherNonZero(0, 33, c0, nc, kept);
        var expected = Enumerable.Range(0, 33).Select(r => rows.AsSpan((r * d) + c0, nc).ToArray()).Where(r => !IsZero(r)).ToList();
        var written = Enumerable.Range(0, count).Select(r => kept.AsSpan(r * nc, nc).ToArray()).Where(r => !IsZero(r)).ToList();
        Assert.That(written.Count, Is.EqualTo(expected.Count));
        for (var r = 0; r < expected.Count; r++)
            Assert.That(Bits(written[r]), Is.EqualTo(Bits(expected[r])), $"non-zero row {r}");
        if (nc == 12)
            Assert.That(count, Is.LessThan(33), "a unit off for some samples has rows left out");
    }

    // Several chunks of samples per pass (chunkSamples = 4): each sample's inputs and output gradients land at its row.
    [Test]
    public void ComputeFactors_InChunks_EqualsComputeInTheSameChunks()
    {
        var model = ModelFactory.Create("mlp:8-5-3", seed: 6);
        var (x, y) = TestData.Random(15, 8, 3, 7);
        var sel = ParameterSelection<float>.Prunable(model, includeBiases: true);
        var rows = new float[15 * sel.Dimension];
        PerSampleGradients.Compute(model, x, y, null, 15, sel, 1, rows, chunkSamples: 4);
        var factors = PerSampleGradients.ComputeFactors(model, x, y, null, 15, sel, chunkSamples: 4)!;
        var all = new float[15 * sel.Dimension];
        factors.Gather(0, 15, 0, sel.Dimension, all);
        Assert.That(Bits(all), Is.EqualTo(Bits(rows)));
    }

    // A Conv2d's per-sample gradient is a sum of outer products over positions, and a mini-batch row a sum over samples:
    // neither has the factor form, so neither source offers it (and the plan counts none).
    [Test]
    public void NoFactors_ForConvolutionsOrMiniBatchMeans()
    {
        var cnn = ModelFactory.Create("lenet5:1x12x12", seed: 1);
        var (cx, cy) = TestData.Random(6, 144, 10, 2);
        var conv = new PerSampleGradientSource(cnn, cx, cy, 6);
        var mlp = ModelFactory.Create("mlp:8-6-3", seed: 1);
        var (x, y) = TestData.Random(8, 8, 3, 2);
        var averaged = new PerSampleGradientSource(mlp, x, y, 8, groupSize: 2);
        var fcOnly = new PerSampleGradientSource(cnn, cx, cy, 6, ParameterSelection<float>.ByNames(cnn, ["fc1.weight"]));
        Assert.Multiple(() =>
        {
            Assert.That(conv.Factors(), Is.Null);
            Assert.That(conv.FactorBytes, Is.Null);
            Assert.That(averaged.Factors(), Is.Null);
            Assert.That(averaged.FactorBytes, Is.Null);
            Assert.That(fcOnly.Factors(), Is.Not.Null, "a CNN's Linear layers alone have the factor form");
        });
    }

    // Held factors serve any consumer: read as rows, chunk by chunk, they are the rows.
    [Test]
    public void HeldFactors_ReadAsRows_InChunks()
    {
        var model = ModelFactory.Create("mlp:9-7-4", seed: 2);
        var (x, y) = TestData.Random(14, 9, 4, 3);
        var source = new PerSampleGradientSource(model, x, y, 14);
        var rows = new float[14 * source.Dimension];
        source.Read(rows, 14);
        var held = new GradientFactorsSource(source.Factors()!, source.Segments);
        Assert.That(held.Count, Is.EqualTo(14));
        Assert.That(held.Segments, Is.EqualTo(source.Segments));
        var read = new float[14 * source.Dimension];
        var got = 0;
        int n;
        while ((n = held.Read(read.AsSpan(got * source.Dimension), 5)) > 0)
            got += n;
        Assert.That(got, Is.EqualTo(14));
        Assert.That(Bits(read), Is.EqualTo(Bits(rows)));
        held.Reset();
        Assert.That(held.Read(read, 1), Is.EqualTo(1));
    }
}
