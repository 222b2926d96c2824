namespace WoodFisher.Models.Training;

/// <summary>
/// Training stopped because it diverged: a batch loss or, at an epoch's end, a weight became NaN or infinite. Nothing
/// after that point is meaningful, so the trainer stops rather than carry NaN weights on.
/// </summary>
/// <param name="epoch">1-based epoch.</param>
/// <param name="step">1-based step within the epoch.</param>
/// <param name="steps">Steps per epoch.</param>
/// <param name="what">What became non-finite.</param>
public sealed class TrainingDivergedException(int epoch, int step, int steps, string what)
    : ArithmeticException($"training diverged at epoch {epoch}, step {step} of {steps}: {what}; lower the learning rate (or the weight decay)")
{
    /// <summary>1-based epoch.</summary>
    public int Epoch { get; } = epoch;

    /// <summary>1-based step (batch) within the epoch.</summary>
    public int Step { get; } = step;
}
