namespace WoodFisher.Models.Training;

/// <summary>Learning rate as a function of the (fractional) epoch.</summary>
public abstract class LearningRateSchedule
{
    /// <summary>The learning rate at <paramref name="epoch"/> (0-based, fractional within an epoch).</summary>
    public abstract double At(double epoch);

    /// <summary>Constant rate η.</summary>
    public static LearningRateSchedule Constant(double lr) => new StepSchedule(lr, int.MaxValue, 1.0);

    /// <summary>Step decay η·γ^⌊epoch/stepEpochs⌋.</summary>
    public static LearningRateSchedule Step(double lr, int stepEpochs, double gamma) => new StepSchedule(lr, stepEpochs, gamma);

    /// <summary>Cosine annealing η_min + (η − η_min)·(1 + cos(π·epoch/epochs))/2.</summary>
    public static LearningRateSchedule Cosine(double lr, int epochs, double minLr = 0) => new CosineSchedule(lr, epochs, minLr);

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
