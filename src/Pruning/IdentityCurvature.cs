using WoodFisher.Kernels;
using WoodFisher.Pruning.Internal;

namespace WoodFisher.Pruning;

/// <summary>
/// H⁻¹ = I (d × d). The OBS score becomes ρ_q = w_q²/2, i.e. magnitude pruning, and every OBS update reduces to
/// setting the pruned weights to zero (the other weights do not move). Blocks of 1.
/// </summary>
public sealed class IdentityCurvature : IInverseCurvature
{
    private readonly Lazy<BlockLayout> _layout;

    /// <summary>H⁻¹ = I of dimension <paramref name="dimension"/> ≥ 1.</summary>
    public IdentityCurvature(int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        Dimension = dimension;
        _layout = new Lazy<BlockLayout>(() => BlockLayout.Create(dimension, 1));
    }

    /// <inheritdoc />
    public int Dimension { get; }

    /// <inheritdoc />
    /// <remarks>Built on first use: d blocks of 1 cost O(d) memory that magnitude pruning never needs.</remarks>
    public BlockLayout Layout => _layout.Value;

    /// <inheritdoc />
    public string Name => "identity";

    /// <inheritdoc />
    public long Bytes => 0;

    /// <inheritdoc />
    public double[] Diagonal()
    {
        var d = new double[Dimension];
        Array.Fill(d, 1.0);
        return d;
    }

    /// <inheritdoc />
    public double[] Multiply(ReadOnlySpan<double> v)
    {
        ScoreChecks.VectorLength(v.Length, Dimension, nameof(v));
        return v.ToArray();
    }

    /// <inheritdoc />
    public double[] SubMatrix(ReadOnlySpan<int> indices)
    {
        var (_, local) = JointObs.LocateAll(Layout, indices);
        var k = local.Length;
        var m = new double[k * k];
        for (var i = 0; i < k; i++)
        {
            m[(i * k) + i] = 1;
        }

        return m;
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
