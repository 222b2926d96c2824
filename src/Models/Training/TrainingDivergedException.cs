namespace WoodFisher.Models.Training;

/// <summary>
/// Training stopped because it diverged: a batch loss or, at an epoch's end, a weight became NaN or infinite. Nothing
/// after that point is meaningful, so the trainer stops rather than carry NaN weights on.
/// </summary>
public sealed class TrainingDivergedException : ArithmeticException
{
    /// <summary>Creates the exception for 1-based <paramref name="epoch"/> and <paramref name="step"/>.</summary>
    public TrainingDivergedException(int epoch, int step, int steps, string what)
        : base($"training diverged at epoch {epoch}, step {step} of {steps}: {what}; lower the learning rate (or the weight decay)")
    {
        Epoch = epoch;
        Step = step;
    }

    /// <summary>1-based epoch.</summary>
    public int Epoch { get; }

    /// <summary>1-based step (batch) within the epoch.</summary>
    public int Step { get; }
}
