using System.Buffers;
using System.Runtime.CompilerServices;
using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels;

/// <summary>
/// The joint OBS update, once for every estimator and backend: per block b with removal set Q_b,
/// δw_b = −[F⁻¹]_{b,Q}([F⁻¹]_QQ)⁻¹w_Q, after which w_Q is set exactly to zero. Sources only gather [F⁻¹]_QQ and scatter
/// [F⁻¹]_{b,Q}α (<see cref="IJointObsSource"/>); the solve and its policy live here.
/// </summary>
/// <remarks>
/// <para><b>Solve policy</b> (<see cref="Solve(Span{double}, int, Span{double}, int, double)"/>), in float64 whatever the storage: Cholesky of A = [F⁻¹]_QQ. A is
/// positive definite in exact arithmetic (F⁻¹ is), but a nearly singular A — |Q| near c, or columns of F⁻¹ nearly
/// parallel, stored in float32 — may fail by rounding. Then the Cholesky of A + τI is tried with
/// τ = 10^j · q · max(u, √u₆₄) · max_i a_ii for j = 0, 1, 2, 3, where u is the unit roundoff of the storage (2⁻²⁴ for
/// <see cref="Precision.Float32"/>, 2⁻⁵³ for <see cref="Precision.Float64"/>) and √u₆₄ ≈ 1.05·10⁻⁸. The first τ is at
/// least the rounding already in A, and large enough that α = (A + τI)⁻¹w_Q stays below ‖w_Q‖/τ: in the directions
/// where A is numerically singular the columns [F⁻¹]_{:,Q} cancel, and the float64 sum δ = [F⁻¹]_{:,Q}α then loses at
/// most u₆₄·‖α‖ ≲ √u₆₄·‖w_Q‖/q to that cancellation. A that fails all four — a non-positive diagonal, a NaN, or an
/// eigenvalue below −1000·τ₀ — is not positive definite by any rounding: <see cref="BlockNotPositiveDefiniteException"/>
/// names the block.</para>
/// <para>Everything after the gather is float64, whatever the storage: a float32 [F⁻¹]_{b,Q} is widened exactly, so
/// every backend computes the same δw from the same stored values. Work is done in groups of consecutive blocks holding
/// at most <see cref="GroupElements"/> elements of [F⁻¹]_{b,Q} (see <see cref="JointObsPlan.Groups"/>), so the gathered
/// columns stay a bounded working set at any sparsity; blocks within a group are solved in parallel.</para>
/// </remarks>
public static partial class JointObsUpdate
{
    /// <summary>Jittered retries after a failed Cholesky (τ grows tenfold each time).</summary>
    public const int JitterSteps = 4;

    /// <summary>Bound on Σ c_b·q_b per group of blocks (elements).</summary>
    public const long GroupElements = 1L << 22;

    /// <summary>Unit roundoff u of a storage precision: 2⁻²⁴ (float32) or 2⁻⁵³ (float64).</summary>
    public static double UnitRoundoff(Precision precision) => precision == Precision.Float32 ? Math.ScaleB(1.0, -24) : Math.ScaleB(1.0, -53);

    /// <summary>
    /// The first jitter of the solve policy for a q × q sub-matrix with largest diagonal entry <paramref name="maxDiagonal"/>
    /// stored with unit roundoff <paramref name="unitRoundoff"/>: q · max(u, √u₆₄) · max a_ii.
    /// </summary>
    public static double FirstJitter(int q, double maxDiagonal, double unitRoundoff)
        => q * Math.Max(unitRoundoff, Math.Sqrt(Math.ScaleB(1.0, -53))) * maxDiagonal;

    /// <summary>
    /// Applies the joint update to <paramref name="weights"/> (length d) for the coordinates that <paramref name="mask"/>
    /// prunes; afterwards every pruned weight is exactly zero and blocks with an empty Q are untouched.
    /// </summary>
    /// <param name="layout">The blocks inside which the update is exact.</param>
    /// <param name="weights">w, updated in place.</param>
    /// <param name="mask">Mask (length d): true = kept, false = pruned (in Q).</param>
    /// <param name="source">Gathers the columns [F⁻¹]_{b,Q}.</param>
    /// <param name="storage">The precision F⁻¹ is stored in: sets the jitter scale u of the solve policy.</param>
    /// <exception cref="BlockNotPositiveDefiniteException">Some [F⁻¹]_QQ is not positive definite even with the largest jitter.</exception>
    public static void Apply(BlockLayout layout, Span<double> weights, ReadOnlySpan<bool> mask, IJointObsSource source, Precision storage)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(source);
        if (weights.Length != layout.Dimension || mask.Length != layout.Dimension)
        {
            throw new ArgumentException($"Weights and mask must both have length d = {layout.Dimension}, got {weights.Length} and {mask.Length}.");
        }

        var plan = JointObsPlan.Create(layout, mask);
        if (plan.Count == 0)
        {
            return;
        }

        var u = UnitRoundoff(storage);
        var delta = new double[layout.Dimension];
        var alpha = new double[plan.Count];
        for (var b = 0; b < layout.Count; b++)
        {
            var off = layout.Offset(b);
            var local = plan.Local(b);
            for (var i = 0; i < local.Length; i++)
            {
                alpha[plan.EntryStart(b) + i] = weights[off + local[i]];
            }
        }

        var pool = ArrayPool<double>.Shared;
        foreach (var (first, last) in plan.Groups(GroupElements))
        {
            var c0 = plan.ColumnStart(first);
            var columns = pool.Rent((int)(plan.ColumnStart(last) - c0));
            try
            {
                source.GatherColumns(plan, first, last, columns);
                BlockParallel.For(last - first, i =>
                {
                    var b = first + i;
                    if (plan.Size(b) > 0)
                    {
                        SolveAndStep(plan, b, columns.AsSpan((int)(plan.ColumnStart(b) - c0)), alpha, delta, u);
                    }
                });
            }
            finally
            {
                pool.Return(columns);
            }
        }

        for (var i = 0; i < weights.Length; i++)
        {
            weights[i] = mask[i] ? weights[i] - delta[i] : 0.0;
        }
    }

    /// <summary>α_b = ([F⁻¹]_QQ)⁻¹w_Q in place in <paramref name="alpha"/>, then δ_b = [F⁻¹]_{b,Q}α_b into <paramref name="delta"/>.</summary>
    /// <remarks>
    /// Compiled optimised from the first call, as are the solve and the gather into the factor: a prune calls them once per
    /// block, a few hundred times in all, too few for tiered compilation to replace its unoptimised first code in time.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SolveAndStep(JointObsPlan plan, int b, ReadOnlySpan<double> columns, double[] alpha, double[] delta, double u)
    {
        var local = plan.Local(b);
        var q = local.Length;
        var c = plan.Layout.Size(b);
        var a = alpha.AsSpan(plan.EntryStart(b), q);
        var rows = new GatheredRows(columns, local);
        SolveCore(ref rows, q, a, b, u, "sub-matrix [F⁻¹]_QQ");

        var step = delta.AsSpan(plan.Layout.Offset(b), c);
        for (var r = 0; r < c; r++)
        {
            step[r] = SimdOps.Dot<double>(columns.Slice(r * q, q), a);
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
        => Solve(matrix, n, rhs, block, unitRoundoff, "sub-matrix [F⁻¹]_QQ");

    /// <summary>As <see cref="Solve(Span{double}, int, Span{double}, int, double)"/>, naming the matrix <paramref name="name"/> in the exception.</summary>
    internal static double Solve(Span<double> matrix, int n, Span<double> rhs, int block, double unitRoundoff, string name)
    {
        if (matrix.Length != n * n || rhs.Length != n)
        {
            throw new ArgumentException($"Expected a {n} × {n} matrix and {n} right-hand-side entries, got {matrix.Length} and {rhs.Length}.");
        }

        var whole = new WholeMatrix(matrix, n);
        return SolveCore(ref whole, n, rhs, block, unitRoundoff, name);
    }

    /// <summary>The policy of <see cref="Solve(Span{double}, int, Span{double}, int, double)"/> on the lower triangle that <paramref name="a"/> writes, again for each retry.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double SolveCore<TMatrix>(ref TMatrix a, int n, Span<double> rhs, int block, double unitRoundoff, string name)
        where TMatrix : ISymmetricSource, allows ref struct
    {
        var pool = ArrayPool<double>.Shared;
        var factor = pool.Rent(n * n);
        try
        {
            var f = factor.AsSpan(0, n * n);
            a.WriteLower(f);
            if (LinearAlgebra.TryCholeskyFactor<double>(f, n))
            {
                LinearAlgebra.CholeskySolve<double>(f, n, rhs);
                return 0;
            }

            var scale = 0.0;
            for (var i = 0; i < n; i++)
            {
                var d = a.Diagonal(i);
                if (!(d > 0) || !double.IsFinite(d))
                {
                    throw new BlockNotPositiveDefiniteException(block, $"diagonal entry {i} of the {n} × {n} {name} is {d:G6}");
                }

                scale = Math.Max(scale, d);
            }

            var tau = FirstJitter(n, scale, unitRoundoff);
            for (var step = 0; step < JitterSteps; step++, tau *= 10)
            {
                a.WriteLower(f);
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

            throw new BlockNotPositiveDefiniteException(block, $"the {n} × {n} {name} failed Cholesky even with jitter {tau / 10:G3} on its diagonal");
        }
        finally
        {
            pool.Return(factor);
        }
    }

    /// <summary>A symmetric n × n matrix that writes its lower triangle (row-major) into a factor's storage.</summary>
    private interface ISymmetricSource
    {
        void WriteLower(Span<double> target);

        double Diagonal(int i);
    }

    /// <summary>A whole row-major matrix, copied as it is.</summary>
    private readonly ref struct WholeMatrix(Span<double> matrix, int n) : ISymmetricSource
    {
        private readonly Span<double> _matrix = matrix;

        public void WriteLower(Span<double> target) => _matrix.CopyTo(target);

        public double Diagonal(int i) => _matrix[(i * n) + i];
    }

    /// <summary>
    /// [F⁻¹]_QQ inside the gathered columns [F⁻¹]_{b,Q} (c × q): row i is row local[i] of the columns. Only the lower
    /// triangle is copied, straight into the factor, so no q × q copy of its own is made.
    /// </summary>
    private readonly ref struct GatheredRows(ReadOnlySpan<double> columns, ReadOnlySpan<int> local) : ISymmetricSource
    {
        private readonly ReadOnlySpan<double> _columns = columns;
        private readonly ReadOnlySpan<int> _local = local;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void WriteLower(Span<double> target)
        {
            var q = _local.Length;
            for (var i = 0; i < q; i++)
            {
                _columns.Slice(_local[i] * q, i + 1).CopyTo(target.Slice(i * q, i + 1));
            }
        }

        public double Diagonal(int i) => _columns[(_local[i] * _local.Length) + i];
    }
}
