using WoodFisher.Models.Autograd;

namespace WoodFisher.Models.Tests;

// The oracle is a loop of batch-size-1 backward passes (LossGradient.Mean over one sample), float64: both compute the
// same sums in a different order, so they agree to ~1e-13; 1e-10 leaves room for conv sums of a few hundred terms.
public class PerSampleGradientTests
{
    private static double[] LoopOracle(IModel<double> model, float[] x, int[] y, int count, ParameterSelection<double> sel)
    {
        var per = x.Length / y.Length;
        var rows = new double[count * sel.Dimension];
        for (var n = 0; n < count; n++)
        {
            var g = LossGradient.Mean(model, x.AsSpan(n * per, per), y.AsSpan(n, 1), 1, sel);
            g.CopyTo(rows, n * sel.Dimension);
        }
        return rows;
    }

    [TestCase("mlp:6-5-4-3", true)]
    [TestCase("mlp:6-5-4-3", false)]
    [TestCase("mlp:6-5-3:nobias", true)]
    [TestCase("lenet5:1x12x12", true)]
    [TestCase("cifarnet:2x8x8", true)]
    [TestCase("resnet20:2x8x8", false)]
    public void BatchedPass_EqualsLoopOfSingleSampleBackwards_Float64(string spec, bool biases)
    {
        var model = ModelFactory.Create<double>(spec, seed: 3);
        var per = model.InputShape.Aggregate(1, (a, b) => a * b);
        var (x, y) = TestData.Random(7, per, model.NumClasses, 5);
        var sel = ParameterSelection<double>.Prunable(model, biases);
        var g = PerSampleGradients.Compute(model, x, y, 7, sel);
        var expected = LoopOracle(model, x, y, 7, sel);
        Assert.That(g, Is.EqualTo(expected).Within(1e-10));
    }

    [Test]
    public void GroupRows_AreMeansOfPerSampleRows_Float64()
    {
        var model = ModelFactory.Create<double>("lenet5:1x12x12", seed: 4);
        var (x, y) = TestData.Random(10, 144, 10, 6);
        var sel = ParameterSelection<double>.Prunable(model, includeBiases: true);
        var single = PerSampleGradients.Compute(model, x, y, 9, sel);
        var grouped = PerSampleGradients.Compute(model, x, y, 10, sel, groupSize: 3);
        var d = sel.Dimension;
        Assert.That(grouped, Has.Length.EqualTo(3 * d));
        for (var r = 0; r < 3; r++)
            for (var j = 0; j < d; j++)
            {
                var mean = (single[(3 * r) * d + j] + single[(3 * r + 1) * d + j] + single[(3 * r + 2) * d + j]) / 3;
                Assert.That(grouped[r * d + j], Is.EqualTo(mean).Within(1e-12));
            }
        // And a group's row is the gradient of the group's mean loss.
        var mg = LossGradient.Mean(model, x.AsSpan(3 * 144), y.AsSpan(3), 3, sel);
        Assert.That(grouped.AsSpan(d, d).ToArray(), Is.EqualTo(mg).Within(1e-12));
    }

    [Test]
    public void Source_StreamsRowsInChunks_WithSegmentsAndReset()
    {
        var model = ModelFactory.Create("mlp:8-6-3", seed: 1);
        var (x, y) = TestData.Random(20, 8, 3, 2);
        var src = new PerSampleGradientSource(model, x, y, 10);
        Assert.That(src.Dimension, Is.EqualTo(6 * 8 + 3 * 6));
        Assert.That(src.Segments, Is.EqualTo(new[] { 48, 18 }));
        Assert.That(src.Count, Is.EqualTo(10));
        Assert.That(src.Selection.Entries[1].Name, Is.EqualTo("fc2.weight"));
        Assert.That(src.Selection.Entries[1].Offset, Is.EqualTo(48));
        var all = new float[10 * src.Dimension];
        var got = 0;
        int r;
        while ((r = src.Read(all.AsSpan(got * src.Dimension), 4)) > 0)
            got += r;
        Assert.That(got, Is.EqualTo(10));
        var expected = PerSampleGradients.Compute(model, x, y, 10, src.Selection);
        Assert.That(all, Is.EqualTo(expected).Within(1e-6));
        src.Reset();
        var again = new float[src.Dimension];
        src.Read(again, 1);
        Assert.That(again, Is.EqualTo(expected.AsSpan(0, src.Dimension).ToArray()));

        var shuffled = new PerSampleGradientSource(model, x, y, 5, shuffleSeed: 7);
        var s1 = new float[5 * src.Dimension];
        shuffled.Read(s1, 5);
        shuffled.Reset();
        var s2 = new float[5 * src.Dimension];
        shuffled.Read(s2, 5);
        Assert.That(s1, Is.EqualTo(s2), "the same seed gives the same order");
    }

    [Test]
    public void PerSampleRowsAverage_ToMeanGradient_Float32()
    {
        var model = ModelFactory.Create("mlp:10-8-4", seed: 2);
        var (x, y) = TestData.Random(32, 10, 4, 3);
        var sel = ParameterSelection<float>.Prunable(model, true);
        var g = PerSampleGradients.Compute(model, x, y, 32, sel);
        var mean = LossGradient.Mean(model, x, y, 32, sel);
        var d = sel.Dimension;
        for (var j = 0; j < d; j++)
        {
            double s = 0;
            for (var n = 0; n < 32; n++)
                s += g[n * d + j];
            // float32 sums of 32 O(0.1) terms: 1e-5 absolute.
            Assert.That(s / 32, Is.EqualTo(mean[j]).Within(1e-5));
        }
    }

    [Test]
    public void Source_ShuffledGroups_EqualComputeOverTheSameOrder()
    {
        var model = ModelFactory.Create("lenet5:1x12x12", seed: 1);
        var (x, y) = TestData.Random(12, 144, 10, 2);
        var src = new PerSampleGradientSource(model, x, y, 8, groupSize: 2, shuffleSeed: 3);
        Assert.That(src.Count, Is.EqualTo(4));
        var rows = new float[4 * src.Dimension];
        Assert.That(src.Read(rows, 3), Is.EqualTo(3));
        Assert.That(src.Read(rows.AsSpan(3 * src.Dimension), 3), Is.EqualTo(1));
        Assert.That(src.Read(rows, 3), Is.EqualTo(0));
        var order = Enumerable.Range(0, 12).ToArray();
        new Random(3).Shuffle(order);
        var expected = new float[4 * src.Dimension];
        PerSampleGradients.Compute(model, x, y, order[..8], 8, src.Selection, 2, expected);
        // Same arithmetic in chunks of 6 vs 8 samples: identical up to float32 summation order.
        Assert.That(rows, Is.EqualTo(expected).Within(1e-6));
    }
}
