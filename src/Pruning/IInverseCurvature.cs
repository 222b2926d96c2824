using WoodFisher.Kernels;

namespace WoodFisher.Pruning;

/// <summary>
/// Everything a pruner asks of an inverse-curvature estimate H⁻¹ (d × d, symmetric positive definite):
/// its diagonal, products H⁻¹v, principal sub-matrices inside a block, and the joint OBS update.
/// One implementation per estimator (identity, diagonal Fisher, WoodFisher, K-FAC, exact dense Hessian);
/// callers never branch on which one they hold. Indices are global coordinates in [0, d), in parameter order.
/// </summary>
public interface IInverseCurvature
{
    /// <summary>Dimension d.</summary>
    int Dimension { get; }

    /// <summary>
    /// The blocks inside which <see cref="SubMatrix"/> is defined and <see cref="ObsUpdate"/> is exact: the estimate
    /// is treated as block-diagonal with these blocks for joint updates. Diagonal estimators use blocks of 1.
    /// </summary>
    BlockLayout Layout { get; }

    /// <summary>Short human-readable name, e.g. "woodfisher(c=100, λ=1e-5)".</summary>
    string Name { get; }

    /// <summary>Bytes held by the estimate.</summary>
    long Bytes { get; }

    /// <summary>The diagonal [H⁻¹]_qq for all q (length d, all &gt; 0).</summary>
    double[] Diagonal();

    /// <summary>
    /// H⁻¹v (length d) with the estimator's full operator. For every estimator except K-FAC this operator is
    /// block-diagonal in <see cref="Layout"/>; K-FAC applies the whole-layer Kronecker inverse here.
    /// </summary>
    double[] Multiply(ReadOnlySpan<double> v);

    /// <summary>
    /// The principal sub-matrix [H⁻¹]_QQ (|Q| × |Q|, row-major) for global indices Q that all lie in one block of
    /// <see cref="Layout"/>; throws <see cref="ArgumentException"/> otherwise.
    /// </summary>
    double[] SubMatrix(ReadOnlySpan<int> indices);

    /// <summary>
    /// Calls <paramref name="use"/>(i, [H⁻¹]_QQ) for every Q = <paramref name="parts"/>[i] (global indices inside one block,
    /// as <see cref="SubMatrix"/> takes them), one at a time and in any order; the matrix is the callee's to keep or
    /// overwrite. An estimate that rebuilds its blocks on demand (two passes under a memory budget) serves all the parts in
    /// one pass, where a <see cref="SubMatrix"/> per part would cost a pass each.
    /// </summary>
    void SubMatrices(IReadOnlyList<int[]> parts, Action<int, double[]> use)
    {
        ArgumentNullException.ThrowIfNull(parts);
        ArgumentNullException.ThrowIfNull(use);
        for (var i = 0; i < parts.Count; i++)
            use(i, SubMatrix(parts[i]));
    }

    /// <summary>
    /// Joint OBS update, per block B of <see cref="Layout"/> with Q = the block's coordinates that
    /// <paramref name="mask"/> prunes (false): w_B ← w_B − [H⁻¹]_{B,Q}([H⁻¹]_QQ)⁻¹w_Q, i.e. δw = −H⁻¹E_Q([H⁻¹]_QQ)⁻¹w_Q,
    /// which minimises ½δᵀHδ subject to w_Q + δ_Q = 0. Pruned weights end exactly at zero; blocks with empty Q are untouched.
    /// </summary>
    /// <param name="weights">w (length d), updated in place.</param>
    /// <param name="mask">Mask (length d): true = kept, false = pruned (in Q).</param>
    void ObsUpdate(Span<double> weights, ReadOnlySpan<bool> mask);
}
