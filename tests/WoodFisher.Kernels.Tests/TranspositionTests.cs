namespace WoodFisher.Kernels.Tests;

/// <summary>
/// <see cref="Transposition.Transpose"/> (the inference engine's [b, features] → [features, b]) against the definition,
/// value for value (it moves data and must be exact), at shapes with and without whole 16 × 16 and 8 × 8 blocks on either
/// side (with AVX-512 the 16 × 16 blocks, then 8 × 8 blocks for samples or features past them, then single values), and at
/// shapes of 2¹⁴ values or more, which are split by samples over the cores (pieces of whole 16-sample blocks, the last
/// piece taking the samples past them: 65, 100 and 47 samples).
/// </summary>
public sealed class TranspositionTests
{
    [TestCase(1, 784)]
    [TestCase(2, 3)]
    [TestCase(7, 9)]
    [TestCase(8, 8)]
    [TestCase(9, 17)]
    [TestCase(64, 784)]
    [TestCase(65, 785)]
    [TestCase(16, 16)]
    [TestCase(17, 33)]
    [TestCase(32, 24)]
    [TestCase(24, 40)]
    [TestCase(63, 784)]
    [TestCase(2, 784)]
    [TestCase(128, 300)]
    [TestCase(20, 1001)]
    [TestCase(3, 6000)]
    [TestCase(7, 1)]
    [TestCase(100, 784)]
    [TestCase(47, 512)]
    public void Transpose_EqualsTheDefinition(int b, int features)
    {
        var x = Enumerable.Range(0, b * features).Select(i => (float)i).ToArray();
        var y = Enumerable.Repeat(float.NaN, (b * features) + 5).ToArray();
        Transposition.Transpose(x, b, features, y);
        for (var i = 0; i < b; i++)
        {
            for (var c = 0; c < features; c++)
                Assert.That(y[(c * b) + i], Is.EqualTo(x[(i * features) + c]), $"sample {i}, feature {c}");
        }

        Assert.That(y[(b * features)..].All(float.IsNaN), Is.True, "nothing written past b·features");
    }

    [Test]
    public void Transpose_RefusesSpansTooShort() =>
        Assert.Throws<ArgumentException>(() => Transposition.Transpose(new float[10], 3, 4, new float[12]));
}
