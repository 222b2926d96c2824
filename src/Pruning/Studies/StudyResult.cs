using WoodFisher.Kernels;
using WoodFisher.Models;

namespace WoodFisher.Pruning.Studies;

/// <summary>What one estimator cost to build.</summary>
/// <param name="Label">The estimator's label.</param>
/// <param name="Name">The estimate's own name (settings included).</param>
/// <param name="GradientSeconds">Seconds producing gradients, factors or (exact) the Hessian.</param>
/// <param name="InverseSeconds">Seconds forming the inverse.</param>
/// <param name="Bytes">Bytes held by the estimate (<see cref="IInverseCurvature.Bytes"/>).</param>
public sealed record EstimatorCost(string Label, string Name, double GradientSeconds, double InverseSeconds, long Bytes)
{
    /// <summary>Gradient plus inverse seconds.</summary>
    public double TotalSeconds => GradientSeconds + InverseSeconds;
}

/// <summary>One curvature matrix against another (the matrices themselves, undamped).</summary>
/// <param name="Matrix">e.g. "empirical Fisher".</param>
/// <param name="Reference">e.g. "Hessian".</param>
/// <param name="RelativeFrobenius">‖A − B‖_F/‖B‖_F.</param>
/// <param name="Cosine">⟨A, B⟩_F/(‖A‖_F‖B‖_F).</param>
/// <param name="NormRatio">‖A‖_F/‖B‖_F.</param>
public sealed record MatrixComparison(string Matrix, string Reference, double RelativeFrobenius, double Cosine, double NormRatio);

/// <summary>Everything <see cref="ApproximationStudy.Run"/> measured; rendering is left to the caller.</summary>
public sealed record StudyResult
{
    /// <summary>Model spec.</summary>
    public required string ModelSpec { get; init; }

    /// <summary>The studied parameters (names, shapes, offsets).</summary>
    public required IReadOnlyList<SelectedParameter> Layers { get; init; }

    /// <summary>d.</summary>
    public required int Dimension { get; init; }

    /// <summary>The options used.</summary>
    public required StudyOptions Options { get; init; }

    /// <summary>Spectrum of the exact Hessian (over all d coordinates) and the treatment of the reference inverse.</summary>
    public required SpectrumSummary Spectrum { get; init; }

    /// <summary>Seconds forming the exact Hessian (d Hessian-vector products).</summary>
    public required double HessianSeconds { get; init; }

    /// <summary>Blocks of the per-block errors (the WoodFisher block layout, restarting at each layer).</summary>
    public required BlockLayout ReferenceLayout { get; init; }

    /// <summary>Fidelity of each estimator's inverse against the exact damped inverse.</summary>
    public required IReadOnlyList<FidelityRow> Fidelity { get; init; }

    /// <summary>Empirical Fisher, true Fisher, Gauss–Newton and Hessian against each other.</summary>
    public required IReadOnlyList<MatrixComparison> Matrices { get; init; }

    /// <summary>Heat-map crops of a few blocks.</summary>
    public required IReadOnlyList<BlockSnapshot> Heatmaps { get; init; }

    /// <summary>L(w) of the dense weights on the study samples.</summary>
    public required double BaselineLoss { get; init; }

    /// <summary>Loss-change prediction, per estimator.</summary>
    public required IReadOnlyList<LossChangeResult> LossChanges { get; init; }

    /// <summary>Test loss and accuracy of the dense weights.</summary>
    public required (double Loss, double Accuracy) DenseTest { get; init; }

    /// <summary>Test samples the curves were evaluated on.</summary>
    public required int TestCount { get; init; }

    /// <summary>One-shot pruning curves (all estimators, all update modes).</summary>
    public required IReadOnlyList<PruningCurvePoint> Curves { get; init; }

    /// <summary>Build time and memory of each estimator.</summary>
    public required IReadOnlyList<EstimatorCost> Costs { get; init; }

    /// <summary>Name of the parameter coordinate <paramref name="index"/> belongs to.</summary>
    public string LayerOf(int index)
    {
        foreach (var e in Layers)
        {
            if (index >= e.Offset && index < e.Offset + e.Length)
            {
                return e.Name;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(index), index, $"Outside [0, {Dimension}).");
    }
}
