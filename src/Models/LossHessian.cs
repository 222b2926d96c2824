using System.Numerics;
using WoodFisher.Kernels;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models;

/// <summary>
/// The exact Hessian H = ∂²L/∂θ_S² of the mean loss L(θ) = (1/N)·Σₙ ℓ(f(xₙ; θ), yₙ) (softmax cross-entropy) over a data
/// array, restricted to a <see cref="ParameterSelection{T}"/> S: products H v by Pearlmutter's R-operator
/// (forward-over-reverse, exact to rounding) for Linear, Conv2d, ReLU, max/avg pooling, eval-mode BatchNorm, residual add,
/// reshape and the loss, and the dense H from d of them. The model runs in eval mode.
/// </summary>
public static class LossHessian
{
    /// <summary>
    /// Exact Hessian-vector product H v of the mean loss, H = ∂²L/∂θ_S², with v and the result over the selection S [d]
    /// (the other parameters held fixed).
    /// </summary>
    public static void VectorProduct<T>(IModel<T> model, ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int count,
        ParameterSelection<T> selection, ReadOnlySpan<T> v, Span<T> result, int batchSize = 512)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = selection.Dimension;
        if (v.Length != d || result.Length < d)
            throw new ArgumentException($"v and the result need {d} entries (the selection's dimension).");
        var direction = v.ToArray();
        var hv = new T[d];
        LossGradient.OverBatches(model, x, labels, count, batchSize, true,
            tape =>
            {
                foreach (var p in selection.Parameters)
                    tape.SetTangent(p, direction.AsSpan(selection.OffsetOf(p), p.Length).ToArray());
            },
            tape =>
            {
                foreach (var p in selection.Parameters)
                {
                    var rg = tape.GradTangentOrNull(p);
                    if (rg is not null)
                        Ops.Accumulate<T>(hv.AsSpan(selection.OffsetOf(p), p.Length), rg);
                }
            });
        hv.CopyTo(result);
    }

    /// <summary>
    /// The exact dense Hessian H [d, d] (row-major, float64) of the mean loss over the selection, column j = H eⱼ by one HVP
    /// each (d passes over the data). Not symmetrised: asymmetry measures rounding.
    /// </summary>
    /// <exception cref="InsufficientMemoryException">d²·8 bytes exceed the memory available to the process.</exception>
    /// <param name="model">The model.</param>
    /// <param name="x">Inputs [samples, …InputShape].</param>
    /// <param name="labels">Labels [samples].</param>
    /// <param name="count">Samples N in the mean loss.</param>
    /// <param name="selection">The coordinates of H.</param>
    /// <param name="batchSize">Samples per HVP pass.</param>
    /// <param name="columnsDone">Reported with the number of columns finished after each one (d in all).</param>
    public static double[] Dense<T>(IModel<T> model, ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int count,
        ParameterSelection<T> selection, int batchSize = 512, IProgress<int>? columnsDone = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = selection.Dimension;
        EnsureDenseFits(d);
        var h = new double[(long)d * d];
        var e = new T[d];
        var col = new T[d];
        for (var j = 0; j < d; j++)
        {
            e[j] = T.One;
            VectorProduct(model, x, labels, count, selection, e, col, batchSize);
            e[j] = T.Zero;
            for (var i = 0; i < d; i++)
                h[(long)i * d + j] = double.CreateTruncating(col[i]);
            columnsDone?.Report(j + 1);
        }
        return h;
    }

    /// <summary>Throws unless a d×d float64 matrix (the Hessian, or one of <see cref="FisherMatrices"/>) fits in the memory available to the process.</summary>
    /// <exception cref="InsufficientMemoryException">With the bytes needed and available.</exception>
    public static void EnsureDenseFits(int d)
    {
        var need = MemoryBudget.Product(d, d, sizeof(double));
        if ((long)d * d > Array.MaxLength)
            throw MemoryBudget.Exceeded(need, (long)Array.MaxLength * sizeof(double), $"A dense {d}×{d} float64 matrix", "Select fewer parameters.");
        MemoryBudget.Require(need, $"A dense {d}×{d} float64 matrix", "Select fewer parameters.", fraction: 0.5);
    }
}
