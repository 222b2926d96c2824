using NUnit.Framework;
using WoodFisher.Kernels;

namespace WoodFisher.Kernels.Tests;

[NonParallelizable]
public class MemoryBudgetTests
{
    [TestCase("8G", 8L << 30)]
    [TestCase("512M", 512L << 20)]
    [TestCase("1.5GiB", 3L << 29)]
    [TestCase("64kb", 64L << 10)]
    [TestCase(" 1000 ", 1000L)]
    [TestCase("2T", 2L << 40)]
    public void Parse_ReadsSizesWithBinaryUnits(string text, long expected) =>
        Assert.That(MemoryBudget.Parse(text), Is.EqualTo(expected));

    [TestCase("")]
    [TestCase("G")]
    [TestCase("-1G")]
    [TestCase("0")]
    [TestCase("8X")]
    [TestCase("NaN")]
    [TestCase("1e30G")]
    public void Parse_RefusesNonSizes_NamingTheSource(string text)
    {
        var ex = Assert.Throws<FormatException>(() => MemoryBudget.Parse(text, "--memory"));
        Assert.That(ex!.Message, Does.StartWith("--memory:"));
    }

    [Test]
    public void Product_SaturatesInsteadOfWrapping()
    {
        Assert.That(MemoryBudget.Product(46000, 46000, 4), Is.EqualTo(46000L * 46000 * 4));
        Assert.That(MemoryBudget.Product(int.MaxValue, int.MaxValue, int.MaxValue), Is.EqualTo(long.MaxValue));
        Assert.That(MemoryBudget.Product(long.MaxValue, 0), Is.EqualTo(0));
        Assert.That(MemoryBudget.Sum(long.MaxValue - 1, 5), Is.EqualTo(long.MaxValue));
        Assert.Throws<ArgumentOutOfRangeException>(() => MemoryBudget.Product(-1, 2));
    }

    [Test]
    public void Override_RefusesBeyondTheBudget_AndRestores()
    {
        var before = MemoryBudget.Limit;
        using (MemoryBudget.Override(1000))
        {
            Assert.That(MemoryBudget.Limit, Is.EqualTo(1000));
            Assert.DoesNotThrow(() => MemoryBudget.Require(1000, "x"));
            var ex = Assert.Throws<InsufficientMemoryException>(() => MemoryBudget.Require(1001, "The test array", "Use less."));
            Assert.That(ex!.Message, Does.Contain("The test array needs 1,001 bytes").And.Contain("Use less."));
            Assert.Throws<InsufficientMemoryException>(() => MemoryBudget.Require(600, "half", fraction: 0.5));
        }

        Assert.That(MemoryBudget.Limit, Is.EqualTo(before));
    }
}
