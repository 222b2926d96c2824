using System.Numerics.Tensors;
using WoodFisher.Kernels;

namespace WoodFisher.Pruning.Studies;

/// <summary>
/// A quadratic loss L(w) = c + gᵀ(w − w₀) + ½(w − w₀)ᵀH(w − w₀) (H: d × d row-major, symmetric). With g = 0 and H⁻¹ the
/// exact inverse of H, the OBS prediction ρ_q = w_q²/(2[H⁻¹]_qq) equals the actual loss change of the OBS update exactly:
/// the reference case of <see cref="LossChangeStudy"/>.
/// </summary>
public sealed class QuadraticLoss : ILossEvaluator
{
    private readonly double[] _h;
    private readonly double[] _center;
    private readonly double[] _gradient;
    private readonly double _constant;

    /// <summary>Creates the loss.</summary>
    /// <param name="hessian">H (d × d, row-major).</param>
    /// <param name="center">w₀ (length d).</param>
    /// <param name="gradient">g at w₀ (length d), or null for 0.</param>
    /// <param name="constant">c = L(w₀).</param>
    public QuadraticLoss(double[] hessian, double[] center, double[]? gradient = null, double constant = 0)
    {
        ArgumentNullException.ThrowIfNull(hessian);
        ArgumentNullException.ThrowIfNull(center);
        var d = center.Length;
        if (hessian.LongLength != (long)d * d || (gradient is not null && gradient.Length != d))
        {
            throw new ArgumentException($"H must be {d} × {d} and g of length {d} to match w₀.", nameof(hessian));
        }

        _h = hessian;
        _center = center;
        _gradient = gradient ?? new double[d];
        _constant = constant;
    }

    /// <inheritdoc />
    public int Dimension => _center.Length;

    /// <inheritdoc />
    public double Loss(ReadOnlySpan<double> weights)
    {
        var d = Dimension;
        if (weights.Length != d)
        {
            throw new ArgumentException($"Expected {d} weights, got {weights.Length}.", nameof(weights));
        }

        var delta = new double[d];
        for (var i = 0; i < d; i++)
        {
            delta[i] = weights[i] - _center[i];
        }

        var hDelta = new double[d];
        LinearAlgebra.Multiply<double>(false, false, d, 1, d, _h, delta, hDelta);
        var linear = TensorPrimitives.Dot<double>(_gradient, delta);
        var quadratic = TensorPrimitives.Dot<double>(delta, hDelta);
        return _constant + linear + (0.5 * quadratic);
    }
}
