using System.Buffers;
using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels;

/// <summary>
/// The joint OBS update, once for every estimator and backend: per block b with removal set Q_b,
/// δw_b = −[F⁻¹]_{b,Q}([F⁻¹]_QQ)⁻¹w_Q, after which w_Q is set exactly to zero. Sources only gather [F⁻¹]_QQ and scatter
/// [F⁻¹]_{b,Q}α (<see cref="IJointObsSource"/>); the solve and its policy live here.
/// </summary>
/// <remarks>
/// <para><b>Solve policy</b> (<see cref="Solve"/>), in float64 whatever the storage: Cholesky of A = [F⁻¹]_QQ. A is
/// positive definite in exact arithmetic (F⁻¹ is), but a nearly singular A — |Q| near c, or columns of F⁻¹ nearly
/// parallel, stored in float32 — may fail by rounding. Then the Cholesky of A + τI is tried with
/// τ = 10^j · q · u · max_i a_ii for j = 0, 1, 2, 3, where u is the unit roundoff of the storage
/// (2⁻²⁴ for <see cref="Precision.Float32"/>, 2⁻⁵³ for <see cref="Precision.Float64"/>): the first τ is the size of the
/// rounding already in A, the last a thousand times it. The jitter only damps the directions in which A is
/// numerically singular; in those directions the columns [F⁻¹]_{:,Q} nearly cancel, so δw moves little.
/// A that fails all four — a non-positive diagonal, a NaN, or an eigenvalue below −1000·q·u·max a_ii — is not
/// positive definite by any rounding: <see cref="BlockNotPositiveDefiniteException"/> names the block.</para>
/// <para>Work is done in groups of consecutive blocks holding at most <see cref="GroupElements"/> elements of
/// [F⁻¹]_{:,Q} (see <see cref="JointObsPlan.Groups"/>), so the gathered sub-matrices stay a bounded working set at any
/// sparsity; blocks within a group are solved in parallel.</para>
/// </remarks>
public static class JointObsUpdate
{
    /// <summary>Jittered retries after a failed Cholesky (τ grows tenfold each time).</summary>
    public const int JitterSteps = 4;

    /// <summary>Bound on Σ c_b·q_b per group of blocks (elements).</summary>
    public const long GroupElements = 1L << 22;

    /// <summary>Unit roundoff u of a storage precision: 2⁻²⁴ (float32) or 2⁻⁵³ (float64).</summary>
    public static double UnitRoundoff(Precision precision) => precision == Precision.Float32 ? Math.ScaleB(1.0, -24) : Math.ScaleB(1.0, -53);

    /// <summary>
    /// Applies the joint update to <paramref name="weights"/> (length d) for the coordinates flagged in
    /// <paramref name="remove"/> (length d, true = removed); afterwards every flagged weight is exactly zero and blocks
    /// with an empty Q are untouched.
    /// </summary>
    /// <param name="layout">The blocks inside which the update is exact.</param>
    /// <param name="weights">w, updated in place.</param>
    /// <param name="remove">Q.</param>
    /// <param name="source">Gathers [F⁻¹]_QQ and scatters [F⁻¹]_{b,Q}α.</param>
    /// <param name="storage">The precision F⁻¹ is stored in: sets the jitter scale u of the solve policy.</param>
    /// <exception cref="BlockNotPositiveDefiniteException">Some [F⁻¹]_QQ is not positive definite even with the largest jitter.</exception>
    public static void Apply(BlockLayout layout, Span<double> weights, ReadOnlySpan<bool> remove, IJointObsSource source, Precision storage)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(source);
        if (weights.Length != layout.Dimension || remove.Length != layout.Dimension)
        {
            throw new ArgumentException($"Weights and removal flags must both have length d = {layout.Dimension}, got {weights.Length} and {remove.Length}.");
        }

        var plan = JointObsPlan.Create(layout, remove);
        if (plan.Count == 0)
        {
            return;
        }

        var u = UnitRoundoff(storage);
        var delta = new double[layout.Dimension];
        var pool = ArrayPool<double>.Shared;
        foreach (var (first, last) in plan.Groups(GroupElements))
        {
            var e0 = plan.EntryStart(first);
            var s0 = plan.SubStart(first);
            var sub = pool.Rent((int)(plan.SubStart(last) - s0));
            var alpha = pool.Rent(plan.EntryStart(last) - e0);
            try
            {
                for (var b = first; b < last; b++)
                {
                    var off = layout.Offset(b);
                    var local = plan.Local(b);
                    for (var i = 0; i < local.Length; i++)
                    {
                        alpha[plan.EntryStart(b) - e0 + i] = weights[off + local[i]];
                    }
                }

                source.Gather(plan, first, last, sub);
                BlockParallel.For(last - first, i =>
                {
                    var b = first + i;
                    var q = plan.Size(b);
                    if (q > 0)
                    {
                        Solve(sub.AsSpan((int)(plan.SubStart(b) - s0), q * q), q, alpha.AsSpan(plan.EntryStart(b) - e0, q), b, u);
                    }
                });
                source.Scatter(plan, first, last, alpha, delta);
            }
            finally
            {
                pool.Return(sub);
                pool.Return(alpha);
            }
        }

        for (var i = 0; i < weights.Length; i++)
        {
            weights[i] = remove[i] ? 0.0 : weights[i] - delta[i];
        }
    }

    /// <summary>
    /// Solves A x = b for the symmetric q × q matrix A (row-major, overwritten) by the policy in the class remarks;
    /// <paramref name="rhs"/> holds b on entry and x on return.
    /// </summary>
    /// <param name="matrix">A = [F⁻¹]_QQ (only the lower triangle is read; destroyed).</param>
    /// <param name="n">q.</param>
    /// <param name="rhs">b on entry, x on return.</param>
    /// <param name="block">The block index, named by the exception.</param>
    /// <param name="unitRoundoff">u of the precision A was stored in (see <see cref="UnitRoundoff"/>).</param>
    /// <returns>The jitter τ added to the diagonal: 0 when A itself factored.</returns>
    /// <exception cref="BlockNotPositiveDefiniteException">A is not positive definite even with the largest jitter.</exception>
    public static double Solve(Span<double> matrix, int n, Span<double> rhs, int block, double unitRoundoff)
    {
        if (matrix.Length != n * n || rhs.Length != n)
        {
            throw new ArgumentException($"Expected a {n} × {n} matrix and {n} right-hand-side entries, got {matrix.Length} and {rhs.Length}.");
        }

        var pool = ArrayPool<double>.Shared;
        var factor = pool.Rent(n * n);
        try
        {
            var f = factor.AsSpan(0, n * n);
            matrix.CopyTo(f);
            if (LinearAlgebra.TryCholeskyFactor<double>(f, n))
            {
                LinearAlgebra.CholeskySolve<double>(f, n, rhs);
                return 0;
            }

            var scale = 0.0;
            for (var i = 0; i < n; i++)
            {
                var a = matrix[(i * n) + i];
                if (!(a > 0) || !double.IsFinite(a))
                {
                    throw new BlockNotPositiveDefiniteException(block, $"diagonal entry {i} of the {n} × {n} sub-matrix [F⁻¹]_QQ is {a:G6}");
                }

                scale = Math.Max(scale, a);
            }

            var tau = n * unitRoundoff * scale;
            for (var step = 0; step < JitterSteps; step++, tau *= 10)
            {
                matrix.CopyTo(f);
                for (var i = 0; i < n; i++)
                {
                    f[(i * n) + i] += tau;
                }

                if (LinearAlgebra.TryCholeskyFactor<double>(f, n))
                {
                    LinearAlgebra.CholeskySolve<double>(f, n, rhs);
                    return tau;
                }
            }

            throw new BlockNotPositiveDefiniteException(block, $"the {n} × {n} sub-matrix [F⁻¹]_QQ failed Cholesky even with jitter {tau / 10:G3} on its diagonal");
        }
        finally
        {
            pool.Return(factor);
        }
    }
}
