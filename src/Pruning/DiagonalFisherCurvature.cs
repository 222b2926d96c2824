using WoodFisher.Kernels;
using WoodFisher.Models;
using WoodFisher.Pruning.Internal;

namespace WoodFisher.Pruning;

/// <summary>
/// Diagonal empirical Fisher (OBD-style): H ≈ diag(λ + (1/N)Σₙ gₙ²), so [H⁻¹]_qq = 1/(λ + (1/N)Σₙ g_{n,q}²) and
/// the OBS score is ρ_q = w_q²(λ + F_qq)/2. The off-diagonals are zero, so OBS updates only zero the pruned weights.
/// Blocks of 1.
/// </summary>
public sealed class DiagonalFisherCurvature : IInverseCurvature
{
    private readonly double[] _inverse;
    private readonly Lazy<BlockLayout> _layout;

    /// <summary>From a precomputed Fisher diagonal F_qq = (1/N)Σₙ g_{n,q}² (length d, ≥ 0) and damping λ ≥ 0 (λ + F_qq must be &gt; 0).</summary>
    public DiagonalFisherCurvature(ReadOnlySpan<double> fisherDiagonal, double damping)
    {
        if (fisherDiagonal.Length < 1)
        {
            throw new ArgumentException("The Fisher diagonal must have at least one entry.", nameof(fisherDiagonal));
        }

        if (!(damping >= 0) || !double.IsFinite(damping))
        {
            throw new ArgumentOutOfRangeException(nameof(damping), damping, "Damping λ must be finite and ≥ 0.");
        }

        Damping = damping;
        _inverse = new double[fisherDiagonal.Length];
        for (var i = 0; i < _inverse.Length; i++)
        {
            var h = damping + fisherDiagonal[i];
            if (!(h > 0) || !double.IsFinite(h) || fisherDiagonal[i] < 0)
            {
                throw new ArgumentException($"λ + F_qq must be finite and > 0 with F_qq ≥ 0, got F[{i}] = {fisherDiagonal[i]} and λ = {damping}; increase the damping.", nameof(fisherDiagonal));
            }

            _inverse[i] = 1 / h;
        }

        var d = _inverse.Length;
        _layout = new Lazy<BlockLayout>(() => BlockLayout.Create(d, 1));
    }

    /// <summary>Damping λ.</summary>
    public double Damping { get; }

    /// <inheritdoc />
    public int Dimension => _inverse.Length;

    /// <inheritdoc />
    /// <remarks>Built on first use: d blocks of 1 cost O(d) memory that OBD pruning never needs.</remarks>
    public BlockLayout Layout => _layout.Value;

    /// <inheritdoc />
    public string Name => $"diagfisher(λ={Damping:g3})";

    /// <inheritdoc />
    public long Bytes => (long)Dimension * sizeof(double);

    /// <summary>
    /// Streams all rows of <paramref name="source"/> (from its start) and forms F_qq = (1/N)Σₙ g_{n,q}², N = the row
    /// count or <paramref name="normalizer"/> when given.
    /// </summary>
    public static DiagonalFisherCurvature FromGradients(IGradientSource source, double damping, double? normalizer = null, int chunkRows = 256)
    {
        var stats = GradientStatistics.Compute(source, chunkRows);
        var n = normalizer ?? stats.Rows;
        if (!(n > 0))
        {
            throw new ArgumentException("The gradient source yielded no rows; the diagonal Fisher needs at least one gradient.", nameof(source));
        }

        var f = new double[stats.SumOfSquares.Length];
        for (var i = 0; i < f.Length; i++)
        {
            f[i] = stats.SumOfSquares[i] / n;
        }

        return new DiagonalFisherCurvature(f, damping);
    }

    /// <inheritdoc />
    public double[] Diagonal() => (double[])_inverse.Clone();

    /// <inheritdoc />
    public double[] Multiply(ReadOnlySpan<double> v)
    {
        ScoreChecks.VectorLength(v.Length, Dimension, nameof(v));

        var r = new double[Dimension];
        for (var i = 0; i < r.Length; i++)
        {
            r[i] = _inverse[i] * v[i];
        }

        return r;
    }

    /// <inheritdoc />
    public double[] SubMatrix(ReadOnlySpan<int> indices)
    {
        JointObs.LocateAll(Layout, indices);
        return indices.Length == 0 ? [] : [_inverse[indices[0]]];
    }

    /// <inheritdoc />
    public void ObsUpdate(Span<double> weights, ReadOnlySpan<bool> mask)
    {
        JointObs.Validate(Dimension, weights.Length, mask.Length);
        for (var i = 0; i < weights.Length; i++)
        {
            if (!mask[i])
            {
                weights[i] = 0;
            }
        }
    }
}
