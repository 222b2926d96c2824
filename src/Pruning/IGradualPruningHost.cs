namespace WoodFisher.Pruning;

/// <summary>
/// The trainer side of masked training: after <see cref="SetMask"/> the optimizer keeps every masked weight at zero
/// (zero its gradient and optimizer state, or re-apply the mask after each step) until the next call.
/// </summary>
public interface IMaskedOptimizerHook
{
    /// <summary>Installs the mask (length d, true = kept, parameter order).</summary>
    void SetMask(bool[] mask);
}

/// <summary>Callbacks <see cref="GradualPruner"/> drives; the integrator implements them over a model and its trainer.</summary>
public interface IGradualPruningHost : IMaskedOptimizerHook
{
    /// <summary>The current weights (length d, parameter order).</summary>
    double[] GetWeights();

    /// <summary>Replaces the weights (length d).</summary>
    void SetWeights(double[] weights);

    /// <summary>Trains for <paramref name="epochs"/> epochs with the installed mask held fixed.</summary>
    void FineTune(int epochs);

    /// <summary>
    /// The curvature sample (H⁻¹ and g for WoodTaylor, at a fixed or searched λ) at the given weights and mask (true =
    /// kept): called once per pruning step (and per recompute step). Estimates from gradients should use those of the
    /// surviving weights (<see cref="MaskedGradientSource"/>; <see cref="ModelCurvature.Factory"/> does).
    /// </summary>
    CurvatureSample ComputeCurvature(double[] weights, bool[] mask);
}
