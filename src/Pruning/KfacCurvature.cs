using WoodFisher.Kernels;
using WoodFisher.Pruning.Internal;

namespace WoodFisher.Pruning;

/// <summary>
/// K-FAC: per fully connected layer H ≈ A ⊗ G damped to (A + αI) ⊗ (G + βI) (see <see cref="KfacDamping"/>), so
/// H⁻¹ ≈ (A + αI)⁻¹ ⊗ (G + βI)⁻¹; layers are independent (block-diagonal across layers).
/// </summary>
/// <remarks>
/// <para>Layout convention (PyTorch weight [out, in] row-major, coordinate p = o·in + i; bias coordinate out·in + o is
/// the augmented input index i = in): [H⁻¹]_{p,p'} = G⁻¹[o,o']·A⁻¹[i,i']. In standard Kronecker notation over this
/// row-major vectorisation that is G⁻¹ ⊗ A⁻¹; it is the A⁻¹ ⊗ G⁻¹ of Martens &amp; Grosse, who vectorise column-major.</para>
/// <para><see cref="IInverseCurvature.Multiply"/> applies the whole-layer Kronecker inverse, H⁻¹v = G⁻¹ V A⁻¹ with V the
/// layer's coordinates as an out × n_A matrix (bias as the last column). Whole-layer joint OBS updates would need
/// ([H⁻¹]_QQ)⁻¹ for |Q| up to the layer size, so <see cref="ObsUpdate"/> applies the exact joint update to the
/// block-diagonal part of H⁻¹ in <see cref="Layout"/>: blocks of c consecutive coordinates (restarting at each weight
/// and bias segment), each block's sub-matrix computed from the factors, and coordinates outside a block untouched.</para>
/// </remarks>
public sealed class KfacCurvature : IInverseCurvature
{
    private readonly KfacLayer[] _layers;
    private readonly double[][] _aInv;
    private readonly double[][] _gInv;
    private readonly int[] _layerOffsets;

    /// <summary>Inverts the damped factors of each layer.</summary>
    /// <param name="layers">Layers in parameter order; their coordinates are consecutive and cover d = Σ layer dimensions.</param>
    /// <param name="damping">λ &gt; 0 (or 0 when all factors are positive definite).</param>
    /// <param name="mode">How λ is split between the factors.</param>
    /// <param name="blockSize">Block size c of <see cref="Layout"/> used by joint updates.</param>
    public KfacCurvature(IReadOnlyList<KfacLayer> layers, double damping, KfacDamping mode = KfacDamping.PiCorrected, int blockSize = 100)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0)
        {
            throw new ArgumentException("K-FAC needs at least one layer.", nameof(layers));
        }

        if (!(damping >= 0) || !double.IsFinite(damping))
        {
            throw new ArgumentOutOfRangeException(nameof(damping), damping, "Damping λ must be finite and ≥ 0.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        _layers = [.. layers];
        _aInv = new double[_layers.Length][];
        _gInv = new double[_layers.Length][];
        _layerOffsets = new int[_layers.Length + 1];
        var segments = new List<int>();
        for (var l = 0; l < _layers.Length; l++)
        {
            var layer = _layers[l];
            ArgumentNullException.ThrowIfNull(layer);
            if (layer.OutFeatures < 1 || layer.InFeatures < 1)
            {
                throw new ArgumentException($"Layer {l} has out = {layer.OutFeatures}, in = {layer.InFeatures}; both must be ≥ 1.", nameof(layers));
            }

            var na = layer.InputFactorSize;
            var no = layer.OutFeatures;
            if (layer.A is null || layer.A.Length != na * na || layer.G is null || layer.G.Length != no * no)
            {
                throw new ArgumentException($"Layer {l}: A must be {na} × {na} and G {no} × {no} (row-major), got {layer.A?.Length ?? 0} and {layer.G?.Length ?? 0} elements.", nameof(layers));
            }

            double pi = 1;
            if (mode == KfacDamping.PiCorrected)
            {
                var ta = Trace(layer.A, na) / na;
                var tg = Trace(layer.G, no) / no;
                if (ta > 0 && tg > 0)
                {
                    pi = Math.Sqrt(ta / tg);
                }
            }

            var root = Math.Sqrt(damping);
            _aInv[l] = InvertDamped(layer.A, na, pi * root, l, "A");
            _gInv[l] = InvertDamped(layer.G, no, root / pi, l, "G");
            _layerOffsets[l + 1] = _layerOffsets[l] + layer.Dimension;
            segments.Add(no * layer.InFeatures);
            if (layer.HasBias)
            {
                segments.Add(no);
            }
        }

        Damping = damping;
        DampingMode = mode;
        Layout = BlockLayout.Create(_layerOffsets[^1], blockSize, segments);
    }

    /// <summary>Damping λ.</summary>
    public double Damping { get; }

    /// <summary>How λ was split between the factors.</summary>
    public KfacDamping DampingMode { get; }

    /// <summary>The layers, in order.</summary>
    public IReadOnlyList<KfacLayer> Layers => _layers;

    /// <inheritdoc />
    public int Dimension => _layerOffsets[^1];

    /// <inheritdoc />
    public BlockLayout Layout { get; }

    /// <inheritdoc />
    public string Name => $"kfac(λ={Damping:g3}, {DampingMode}, c={Layout.BlockSize})";

    /// <inheritdoc />
    public long Bytes
    {
        get
        {
            long s = 0;
            for (var l = 0; l < _layers.Length; l++)
            {
                s += (_aInv[l].LongLength + _gInv[l].LongLength) * sizeof(double);
            }

            return s;
        }
    }

    /// <summary>The damped inverse input factor (A + αI)⁻¹ of layer <paramref name="layer"/> (n_A × n_A; a copy).</summary>
    public double[] InputFactorInverse(int layer) => (double[])_aInv[layer].Clone();

    /// <summary>The damped inverse output factor (G + βI)⁻¹ of layer <paramref name="layer"/> (out × out; a copy).</summary>
    public double[] OutputFactorInverse(int layer) => (double[])_gInv[layer].Clone();

    /// <summary>The entry [H⁻¹]_{p,q} (zero across layers).</summary>
    public double Entry(int p, int q)
    {
        var (lp, op, ip) = Coordinates(p);
        var (lq, oq, iq) = Coordinates(q);
        if (lp != lq)
        {
            return 0;
        }

        var no = _layers[lp].OutFeatures;
        var na = _layers[lp].InputFactorSize;
        return _gInv[lp][(op * no) + oq] * _aInv[lp][(ip * na) + iq];
    }

    /// <inheritdoc />
    public double[] Diagonal()
    {
        var d = new double[Dimension];
        for (var p = 0; p < d.Length; p++)
        {
            d[p] = Entry(p, p);
        }

        return d;
    }

    /// <inheritdoc />
    public double[] Multiply(ReadOnlySpan<double> v)
    {
        ScoreChecks.VectorLength(v.Length, Dimension, nameof(v));

        var r = new double[Dimension];
        for (var l = 0; l < _layers.Length; l++)
        {
            var layer = _layers[l];
            var no = layer.OutFeatures;
            var ni = layer.InFeatures;
            var na = layer.InputFactorSize;
            var off = _layerOffsets[l];
            var m = new double[no * na];
            for (var o = 0; o < no; o++)
            {
                for (var i = 0; i < ni; i++)
                {
                    m[(o * na) + i] = v[off + (o * ni) + i];
                }

                if (layer.HasBias)
                {
                    m[(o * na) + ni] = v[off + (no * ni) + o];
                }
            }

            var t = new double[no * na];
            var u = new double[no * na];
            LinearAlgebra.Multiply<double>(false, false, no, na, no, _gInv[l], m, t);
            LinearAlgebra.Multiply<double>(false, false, no, na, na, t, _aInv[l], u);
            for (var o = 0; o < no; o++)
            {
                for (var i = 0; i < ni; i++)
                {
                    r[off + (o * ni) + i] = u[(o * na) + i];
                }

                if (layer.HasBias)
                {
                    r[off + (no * ni) + o] = u[(o * na) + ni];
                }
            }
        }

        return r;
    }

    /// <inheritdoc />
    public double[] SubMatrix(ReadOnlySpan<int> indices)
    {
        JointObs.LocateAll(Layout, indices);
        var k = indices.Length;
        var sub = new double[k * k];
        for (var i = 0; i < k; i++)
        {
            for (var j = 0; j < k; j++)
            {
                sub[(i * k) + j] = Entry(indices[i], indices[j]);
            }
        }

        return sub;
    }

    /// <inheritdoc />
    public void ObsUpdate(Span<double> weights, ReadOnlySpan<bool> mask)
    {
        JointObs.Validate(Dimension, weights.Length, mask.Length);
        JointObs.Apply(Layout, weights, mask, (b, q, dst) =>
        {
            // Entry(p, q) for the block's rows and Q's columns, each coordinate located once rather than per entry.
            var off = Layout.Offset(b);
            var c = Layout.Size(b);
            var columns = new (int Layer, int Out, int In)[q.Length];
            for (var j = 0; j < q.Length; j++)
            {
                columns[j] = Coordinates(off + q[j]);
            }

            for (var r = 0; r < c; r++)
            {
                var (l, o, i) = Coordinates(off + r);
                var (g, a) = (_gInv[l], _aInv[l]);
                var (no, na) = (_layers[l].OutFeatures, _layers[l].InputFactorSize);
                var row = dst.AsSpan(r * q.Length, q.Length);
                for (var j = 0; j < q.Length; j++)
                {
                    var (lq, oq, iq) = columns[j];
                    row[j] = lq != l ? 0 : g[(o * no) + oq] * a[(i * na) + iq];
                }
            }
        });
    }

    private (int Layer, int Out, int In) Coordinates(int p)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(p);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(p, Dimension);
        var pos = Array.BinarySearch(_layerOffsets, p);
        var l = pos >= 0 ? pos : ~pos - 1;
        while (l + 1 < _layerOffsets.Length && _layerOffsets[l + 1] == p)
        {
            l++;
        }

        var layer = _layers[l];
        var local = p - _layerOffsets[l];
        var nw = layer.OutFeatures * layer.InFeatures;
        return local < nw ? (l, local / layer.InFeatures, local % layer.InFeatures) : (l, local - nw, layer.InFeatures);
    }

    private static double Trace(double[] m, int n)
    {
        double s = 0;
        for (var i = 0; i < n; i++)
        {
            s += m[(i * n) + i];
        }

        return s;
    }

    private static double[] InvertDamped(double[] m, int n, double shift, int layer, string factor)
    {
        var a = (double[])m.Clone();
        LinearAlgebra.Symmetrize(a, n);
        for (var i = 0; i < n; i++)
        {
            a[(i * n) + i] += shift;
        }

        return LinearAlgebra.TryCholeskyInvert(a, n)
            ? a
            : throw new CurvatureNotPositiveDefiniteException($"K-FAC factor {factor} of layer {layer} is not positive definite after adding {shift:g6}·I; increase the damping λ.");
    }
}
