using System.Diagnostics;
using WoodFisher.Kernels;
using WoodFisher.Models;

namespace WoodFisher.Pruning.Methods;

/// <summary>
/// <c>exact</c>: OBS with the exact damped Hessian H of the loss over the selected coordinates (d Hessian-vector products),
/// made positive definite by <see cref="EstimatorSpec.Treatment"/> and inverted densely (<see cref="DenseCurvature"/>).
/// The reference of approximation-quality studies; d² float64 values, so small models or layer subsets only.
/// </summary>
internal sealed class ExactMethod() : PruningMethod("exact", "OBS with the exact damped Hessian (small d)",
    [MethodSpec.NameKey, "damping", "samples", "seed", "treatment", "update", "selection", "recompute", "stepping"], "hessian", "exact-hessian")
{
    public override bool NeedsModel => true;

    internal override CurvatureEstimate FromModel(ModelCurvature model, float[] x, int[] labels, EstimatorSpec spec)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        var d = model.Selection.Dimension;
        var clock = Stopwatch.StartNew();
        var h = Hessian(model, x, labels, null);
        var hessianSeconds = clock.Elapsed.TotalSeconds;
        var inverse = new DenseCurvature(h, d, spec.DampingValue, spec.Treatment);
        return new CurvatureEstimate(inverse) { GradientSeconds = hessianSeconds, InverseSeconds = clock.Elapsed.TotalSeconds - hessianSeconds };
    }

    /// <summary>The Hessian once, with the rows and columns of pruned coordinates zeroed (so H + λI is λ there), inverted per λ.</summary>
    internal override Func<double, IInverseCurvature> ModelStatistics(ModelCurvature model, float[] x, int[] labels, EstimatorSpec spec, bool[] mask)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(spec);
        var d = model.Selection.Dimension;
        var h = Hessian(model, x, labels, mask);
        return lambda => new DenseCurvature(h, d, lambda, spec.Treatment);
    }

    private static double[] Hessian(ModelCurvature model, float[] x, int[] labels, bool[]? mask)
    {
        var d = model.Selection.Dimension;
        LossHessian.EnsureDenseFits(d);
        var h = LossHessian.Dense(model.Model, x, labels, labels.Length, model.Selection);
        LinearAlgebra.Symmetrize(h, d);
        for (var q = 0; mask is not null && q < d; q++)
        {
            if (!mask[q])
            {
                h.AsSpan(q * d, d).Clear();
                for (var i = 0; i < d; i++)
                {
                    h[(i * d) + q] = 0;
                }
            }
        }

        return h;
    }
}
