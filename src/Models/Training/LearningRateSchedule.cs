namespace WoodFisher.Models.Training;

/// <summary>Learning rate as a function of the (fractional) epoch.</summary>
public abstract class LearningRateSchedule
{
    /// <summary>The learning rate at <paramref name="epoch"/> (0-based, fractional within an epoch).</summary>
    public abstract double At(double epoch);

    /// <summary>Constant rate η (positive and finite).</summary>
    /// <exception cref="ArgumentOutOfRangeException">η is not positive and finite.</exception>
    public static LearningRateSchedule Constant(double lr) => new StepSchedule(CheckRate(lr), int.MaxValue, 1.0);

    /// <summary>Step decay η·γ^⌊epoch/stepEpochs⌋ (η positive and finite, stepEpochs ≥ 1, 0 &lt; γ ≤ 1).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value outside those ranges.</exception>
    public static LearningRateSchedule Step(double lr, int stepEpochs, double gamma)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(stepEpochs, 1);
        if (!(gamma > 0 && gamma <= 1))
            throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "The decay factor γ must be in (0, 1].");
        return new StepSchedule(CheckRate(lr), stepEpochs, gamma);
    }

    /// <summary>Cosine annealing η_min + (η − η_min)·(1 + cos(π·epoch/epochs))/2 (η positive and finite, 0 ≤ η_min ≤ η, epochs ≥ 1).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value outside those ranges.</exception>
    public static LearningRateSchedule Cosine(double lr, int epochs, double minLr = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(epochs, 1);
        if (!(minLr >= 0 && minLr <= lr))
            throw new ArgumentOutOfRangeException(nameof(minLr), minLr, "The final rate must be in [0, η].");
        return new CosineSchedule(CheckRate(lr), epochs, minLr);
    }

    private static double CheckRate(double lr) =>
        lr > 0 && double.IsFinite(lr) ? lr : throw new ArgumentOutOfRangeException(nameof(lr), lr, "The learning rate η must be positive and finite.");

    private sealed class StepSchedule(double lr, int step, double gamma) : LearningRateSchedule
    {
        public override double At(double epoch) => lr * Math.Pow(gamma, Math.Floor(epoch / step));
    }

    private sealed class CosineSchedule(double lr, int epochs, double minLr) : LearningRateSchedule
    {
        public override double At(double epoch) =>
            minLr + (lr - minLr) * (1 + Math.Cos(Math.PI * Math.Min(epoch, epochs) / epochs)) / 2;
    }
}
