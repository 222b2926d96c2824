using WoodFisher.Pruning.Internal;

namespace WoodFisher.Pruning.Tests;

/// <summary><see cref="DampingWalk"/> against the whole grid (the oracle: evaluate every λ and take the rule's choice).</summary>
public class DampingWalkTests
{
    /// <summary>The rule over every λ: the lowest, or the largest λ within one standard error of it.</summary>
    private static int WholeGridChoice(double[] values, double[] errors, bool oneStandardError)
    {
        var best = Array.IndexOf(values, values.Min());
        var bound = values[best] + errors[best];
        return oneStandardError ? Enumerable.Range(best, values.Length - best).Last(i => values[i] <= bound) : best;
    }

    private static (int Choice, int Evaluations) Walk(double[] values, double[] errors, bool oneStandardError)
    {
        var calls = new List<int>();
        var tried = DampingWalk.Indices(values.Length, i =>
        {
            calls.Add(i);
            return new CriterionValue(values[i], errors[i]);
        }, oneStandardError);
        Assert.That(calls, Is.Unique, "each λ is evaluated once");
        Assert.That(tried, Is.EquivalentTo(calls));
        var best = tried.MinBy(i => values[i]);
        var choice = oneStandardError ? tried.Where(i => i >= best && values[i] <= values[best] + errors[best]).Max() : best;
        return (choice, calls.Count);
    }

    [Test]
    public void OneBasin_FindsTheGridMinimum_WithFewerEvaluations()
    {
        var zeros = new double[7];
        for (var k = 0; k < 7; k++)
        {
            var values = Enumerable.Range(0, 7).Select(i => Math.Pow(i - k, 2) + 1).ToArray();
            var (choice, evaluations) = Walk(values, zeros, false);
            Assert.That(choice, Is.EqualTo(k), $"minimum at {k}");
            Assert.That(evaluations, Is.LessThanOrEqualTo(k == 0 ? 7 : 6), $"minimum at {k}");
        }

        Assert.That(Walk([5, 4, 3, 2, 3, 4, 5], zeros, false).Evaluations, Is.EqualTo(4), "the middle, its neighbours, the largest λ");
    }

    [Test]
    public void SecondBasinAtTheLargestLambda_IsFound()
    {
        // The calibration loss of the MLP at 98% (c = 100): a local minimum at 1e-6 and the lowest value at 1e-1.
        double[] values = [2.6, 2.487, 3.765, 3.239, 3.61, 2.975, 2.21];
        Assert.That(Walk(values, new double[7], false).Choice, Is.EqualTo(6));
    }

    [Test]
    public void OneStandardErrorRule_MatchesTheWholeGrid()
    {
        var rng = new Random(3);
        for (var trial = 0; trial < 50; trial++)
        {
            var k = rng.Next(7);
            var values = Enumerable.Range(0, 7).Select(i => (0.3 * Math.Abs(i - k)) + 1).ToArray();
            var errors = values.Select(_ => rng.NextDouble() * 0.7).ToArray();
            Assert.That(Walk(values, errors, true).Choice, Is.EqualTo(WholeGridChoice(values, errors, true)), $"trial {trial}");
        }
    }

    [Test]
    public void WholeOrShortGrid_EvaluatesEverything()
    {
        Assert.Multiple(() =>
        {
            Assert.That(DampingWalk.Indices(7, _ => 1, false, whole: true), Is.EqualTo(Enumerable.Range(0, 7)));
            Assert.That(DampingWalk.Indices(3, i => i, false), Is.EqualTo(new[] { 0, 1, 2 }));
            Assert.That(DampingWalk.Indices(1, _ => 1, true), Is.EqualTo(new[] { 0 }));
        });
    }
}
