namespace WoodFisher.Pruning.Tests;

public class ScheduleTests
{
    [Test]
    public void Polynomial_HitsEndpoints_AndFollowsCubic()
    {
        var s = new PolynomialSchedule(0.05, 0.9, start: 2, end: 12, frequency: 4);
        Assert.Multiple(() =>
        {
            Assert.That(s.SparsityAt(0), Is.Zero);
            Assert.That(s.SparsityAt(2), Is.EqualTo(0.05).Within(1e-15));
            Assert.That(s.SparsityAt(12), Is.EqualTo(0.9));
            Assert.That(s.SparsityAt(50), Is.EqualTo(0.9));
            Assert.That(s.SparsityAt(7), Is.EqualTo(0.9 + ((0.05 - 0.9) * 0.125)).Within(1e-15));
            Assert.That(s.Steps().Select(x => x.Step), Is.EqualTo(new[] { 2, 6, 10, 12 }));
            Assert.That(s.IsPruningStep(3), Is.False);
        });
    }

    [Test]
    public void OneShot_CubicAndLinear_EndpointsAndValues()
    {
        var cubic = new OneShotSchedule(0.8, 4);
        var linear = new OneShotSchedule(0.8, 4, SparsityStepping.Linear);
        var shifted = new OneShotSchedule(0.8, 2, SparsityStepping.Linear, 0.4);
        Assert.Multiple(() =>
        {
            Assert.That(cubic.SparsityAt(0), Is.Zero);
            Assert.That(cubic.SparsityAt(4), Is.EqualTo(0.8));
            Assert.That(cubic.SparsityAt(1), Is.EqualTo(0.8 * (1 - Math.Pow(0.75, 3))).Within(1e-15));
            Assert.That(linear.SparsityAt(2), Is.EqualTo(0.4).Within(1e-15));
            Assert.That(shifted.SparsityAt(1), Is.EqualTo(0.6).Within(1e-15));
        });
    }

    [Test]
    public void Schedules_RejectBadArguments()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => new PolynomialSchedule(0, 1.0, 0, 10, 1), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => new PolynomialSchedule(0.5, 0.2, 0, 10, 1), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => new PolynomialSchedule(0, 0.5, 5, 4, 1), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => new OneShotSchedule(0.5, 0), Throws.TypeOf<ArgumentOutOfRangeException>());
        });
    }
}
