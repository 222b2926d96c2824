using System.Numerics.Tensors;

namespace WoodFisher.Kernels;

/// <summary>
/// The WoodFisher inverse with one block of all d coordinates (c = d), never formed: F̂ = λI + (1/N)GᵀG with the m
/// gradients G (m × d) kept, and every question answered through m × m systems,
/// F̂⁻¹ = λ⁻¹(I − Gᵀ K⁻¹ G), K = NλI + GGᵀ (factored once by Cholesky).
/// </summary>
/// <remarks>
/// <para>Memory O(md): the rows (float32) and two m × m float64 matrices. Time: the Gram GGᵀ and the diagonal cost m²d
/// each, a product F̂⁻¹v 2md, the joint OBS update m²d + m³.</para>
/// <para>The joint OBS update for a removal set Q needs ([F̂⁻¹]_QQ)⁻¹ with |Q| up to d: by Woodbury once more,
/// [F̂⁻¹]_QQ = λ⁻¹(I − G_QᵀK⁻¹G_Q) has the inverse λ(I + G_Qᵀ M⁻¹ G_Q) with M = K − G_QG_Qᵀ = NλI + G_RG_Rᵀ
/// (R the kept coordinates; formed from G_R directly, so no cancellation), and
/// δw = −F̂⁻¹E_Q([F̂⁻¹]_QQ)⁻¹w_Q = −(E_Q a − GᵀK⁻¹G_Q a) with a = w_Q + G_QᵀM⁻¹G_Qw_Q.</para>
/// <para>All sums are float64 (the float32 rows are widened a chunk of columns at a time).</para>
/// </remarks>
public sealed class FullWoodFisherInverse
{
    /// <summary>Columns of G widened to float64 at a time.</summary>
    private const int Chunk = 2048;

    private readonly float[][] _rows;
    private readonly double[] _factor;
    private double[]? _diagonal;

    private FullWoodFisherInverse(float[][] rows, double[] factor)
    {
        _rows = rows;
        _factor = factor;
    }

    /// <summary>Dimension d.</summary>
    public int Dimension { get; private init; }

    /// <summary>Gradients m.</summary>
    public int Rows => _rows.Length;

    /// <summary>Damping λ.</summary>
    public double Damping { get; private init; }

    /// <summary>Normalizer N.</summary>
    public double Normalizer { get; private init; }

    /// <summary>Bytes held: the rows (m·d·4) and the factor of K and the cached diagonal.</summary>
    public long Bytes => EstimateBytes(Dimension, Rows);

    /// <summary>Bytes an inverse of d coordinates from m gradients holds: m·d·4 for the rows, d·8 for the diagonal and 2m²·8.</summary>
    public static long EstimateBytes(int dimension, long rows) =>
        MemoryBudget.Sum(MemoryBudget.Product(rows, dimension, sizeof(float)), MemoryBudget.Product(dimension, sizeof(double)), MemoryBudget.Product(2, rows, rows, sizeof(double)));

    /// <summary>
    /// Factors K = NλI + GGᵀ for the gradients <paramref name="rows"/> (m arrays of d float32 each, kept by the inverse,
    /// not copied).
    /// </summary>
    /// <param name="rows">g₁ … g_m, each of length <paramref name="dimension"/>, all finite.</param>
    /// <param name="dimension">d ≥ 1.</param>
    /// <param name="damping">λ &gt; 0.</param>
    /// <param name="normalizer">N &gt; 0 (usually m).</param>
    /// <exception cref="BlockNotPositiveDefiniteException">K failed Cholesky (only by overflow: K ≥ NλI in exact arithmetic).</exception>
    public static FullWoodFisherInverse Create(float[][] rows, int dimension, double damping, double normalizer)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        if (rows.Length < 1)
        {
            throw new ArgumentException("The full WoodFisher inverse needs at least one gradient row.", nameof(rows));
        }

        foreach (var r in rows)
        {
            if (r is null || r.Length != dimension)
            {
                throw new ArgumentException($"Every gradient row must have d = {dimension} entries.", nameof(rows));
            }
        }

        if (!(damping > 0) || !double.IsFinite(damping))
        {
            throw new ArgumentOutOfRangeException(nameof(damping), damping, "Damping λ must be positive and finite (e.g. 1e-5).");
        }

        if (!(normalizer > 0) || !double.IsFinite(normalizer))
        {
            throw new ArgumentOutOfRangeException(nameof(normalizer), normalizer, "The normalizer N must be positive and finite.");
        }

        var m = rows.Length;
        var k = Gram(rows, dimension, null);
        var shift = normalizer * damping;
        for (var i = 0; i < m; i++)
        {
            k[(i * m) + i] += shift;
        }

        if (!LinearAlgebra.TryCholeskyFactor<double>(k, m))
        {
            throw new BlockNotPositiveDefiniteException(0, $"K = NλI + GGᵀ ({m} × {m}) failed Cholesky");
        }

        return new FullWoodFisherInverse(rows, k) { Dimension = dimension, Damping = damping, Normalizer = normalizer };
    }

    /// <summary>The diagonal [F̂⁻¹]_qq = λ⁻¹(1 − ‖L⁻¹g_q‖²), g_q column q of G, K = LLᵀ (length d; computed once).</summary>
    public double[] Diagonal()
    {
        if (_diagonal is null)
        {
            var m = Rows;
            var linv = (double[])_factor.Clone();
            LinearAlgebra.LowerTriangularInvert<double>(linv, m);
            var diagonal = new double[Dimension];
            var inv = 1 / Damping;
            ForChunks<double[]>(_rows, Dimension, null, () => new double[m * Math.Min(Chunk, Dimension)], (j0, w, x, z) =>
            {
                Array.Clear(z);
                Gemm.Multiply(m, w, m, 1.0, StridedMatrix<double>.RowMajor(linv, 0, m), StridedMatrix<double>.RowMajor(x, 0, w), z, 0, w);
                for (var j = 0; j < w; j++)
                {
                    double s = 0;
                    for (var i = 0; i < m; i++)
                    {
                        s += z[(i * w) + j] * z[(i * w) + j];
                    }

                    diagonal[j0 + j] = inv * (1 - s);
                }
            }, _ => { });
            _diagonal = diagonal;
        }

        return (double[])_diagonal.Clone();
    }

    /// <summary>F̂⁻¹v = λ⁻¹(v − GᵀK⁻¹Gv) into <paramref name="result"/> (both length d).</summary>
    public void Multiply(ReadOnlySpan<double> v, Span<double> result)
    {
        if (v.Length != Dimension || result.Length != Dimension)
        {
            throw new ArgumentException($"Expected vectors of length d = {Dimension}, got {v.Length} and {result.Length}.");
        }

        var y = Project(v, null);
        LinearAlgebra.CholeskySolve<double>(_factor, Rows, y);
        var gty = TransposeTimes(y);
        var inv = 1 / Damping;
        for (var i = 0; i < Dimension; i++)
        {
            result[i] = inv * (v[i] - gty[i]);
        }
    }

    /// <summary>[F̂⁻¹]_QQ = λ⁻¹(I − G_QᵀK⁻¹G_Q) for coordinates Q (|Q| × |Q| row-major).</summary>
    public double[] SubMatrix(ReadOnlySpan<int> indices)
    {
        var q = indices.Length;
        var m = Rows;
        var gq = new double[m * q];
        for (var i = 0; i < m; i++)
        {
            var row = _rows[i];
            for (var j = 0; j < q; j++)
            {
                if ((uint)indices[j] >= (uint)Dimension)
                {
                    throw new ArgumentOutOfRangeException(nameof(indices), indices[j], $"Coordinates lie in [0, {Dimension}).");
                }

                gq[(i * q) + j] = row[indices[j]];
            }
        }

        // K⁻¹G_Q by the factor, then G_Qᵀ(K⁻¹G_Q).
        var solved = (double[])gq.Clone();
        LinearAlgebra.CholeskySolve<double>(_factor, m, solved, q);
        var sub = new double[q * q];
        Gemm.Multiply(q, q, m, -1.0, StridedMatrix<double>.Transposed(gq, 0, q), StridedMatrix<double>.RowMajor(solved, 0, q), sub, 0, q);
        var inv = 1 / Damping;
        for (var i = 0; i < q; i++)
        {
            sub[(i * q) + i] += 1;
        }

        TensorPrimitives.Multiply(sub, inv, sub);
        return sub;
    }

    /// <summary>
    /// Joint OBS update for all coordinates that <paramref name="mask"/> prunes (false): w ← w − F̂⁻¹E_Q([F̂⁻¹]_QQ)⁻¹w_Q,
    /// then w_Q = 0 exactly (see the class remarks for the m × m form).
    /// </summary>
    /// <exception cref="BlockNotPositiveDefiniteException">M = NλI + G_RG_Rᵀ failed Cholesky (only by overflow).</exception>
    public void ObsUpdate(Span<double> weights, ReadOnlySpan<bool> mask)
    {
        if (weights.Length != Dimension || mask.Length != Dimension)
        {
            throw new ArgumentException($"Weights and mask must have length d = {Dimension}, got {weights.Length} and {mask.Length}.");
        }

        if (!mask.Contains(false))
        {
            return;
        }

        var m = Rows;
        var kept = mask.ToArray();
        var pruned = Array.ConvertAll(kept, k => !k);

        // M = NλI + G_R G_Rᵀ, factored.
        var mm = Gram(_rows, Dimension, kept);
        for (var i = 0; i < m; i++)
        {
            mm[(i * m) + i] += Normalizer * Damping;
        }

        if (!LinearAlgebra.TryCholeskyFactor<double>(mm, m))
        {
            throw new BlockNotPositiveDefiniteException(0, $"M = NλI + G_RG_Rᵀ ({m} × {m}) failed Cholesky");
        }

        // a = w_Q + G_Qᵀ M⁻¹ G_Q w_Q (a lives on Q; zero elsewhere).
        var wq = new double[Dimension];
        for (var i = 0; i < Dimension; i++)
        {
            wq[i] = pruned[i] ? weights[i] : 0;
        }

        var s = Project(wq, pruned);
        LinearAlgebra.CholeskySolve<double>(mm, m, s);
        var a = TransposeTimes(s);
        for (var i = 0; i < Dimension; i++)
        {
            a[i] = pruned[i] ? wq[i] + a[i] : 0;
        }

        // δ = −(E_Q a − Gᵀ K⁻¹ G_Q a): the kept coordinates move by GᵀK⁻¹G_Qa.
        var y = Project(a, pruned);
        LinearAlgebra.CholeskySolve<double>(_factor, m, y);
        var step = TransposeTimes(y);
        for (var i = 0; i < Dimension; i++)
        {
            weights[i] = pruned[i] ? 0 : weights[i] + step[i];
        }
    }

    /// <summary>GGᵀ (m × m, float64), over the columns <paramref name="columns"/> marks true (all when null).</summary>
    private static double[] Gram(float[][] rows, int dimension, bool[]? columns)
    {
        var m = rows.Length;
        var gram = new double[m * m];
        ForChunks(rows, dimension, columns, () => new double[m * m], (j0, w, x, local) =>
            Gemm.Multiply(m, m, w, 1.0, StridedMatrix<double>.RowMajor(x, 0, w), StridedMatrix<double>.Transposed(x, 0, w), local, 0, m, lowerOnly: true),
            local => TensorPrimitives.Add(gram, local, gram));
        Gemm.MirrorLower<double>(gram, m);
        return gram;
    }

    /// <summary>G_S x (length m) over the columns S that <paramref name="columns"/> marks (all when null).</summary>
    private double[] Project(ReadOnlySpan<double> x, bool[]? columns)
    {
        var m = Rows;
        var result = new double[m];
        var v = x.ToArray();
        ForChunks(_rows, Dimension, columns, () => new double[m], (j0, w, chunk, local) =>
        {
            var xs = v.AsSpan(j0, w);
            for (var i = 0; i < m; i++)
            {
                local[i] += TensorPrimitives.Dot(chunk.AsSpan(i * w, w), xs);
            }
        },
        local => TensorPrimitives.Add(result, local, result));
        return result;
    }

    /// <summary>Gᵀy (length d).</summary>
    private double[] TransposeTimes(double[] y)
    {
        var result = new double[Dimension];
        var m = Rows;
        ForChunks((j0, w, x) =>
        {
            var r = result.AsSpan(j0, w);
            for (var i = 0; i < m; i++)
            {
                var yi = y[i];
                var xi = x.AsSpan(i * w, w);
                for (var j = 0; j < w; j++)
                {
                    r[j] += yi * xi[j];
                }
            }
        });
        return result;
    }

    private void ForChunks(Action<int, int, double[]> body) =>
        ForChunks<object?>(_rows, Dimension, null, () => null, (j0, w, x, _) => body(j0, w, x), _ => { });

    /// <summary>
    /// Runs <paramref name="body"/> over chunks of columns [j0, j0 + w), each widened to float64 as an m × w row-major matrix
    /// (columns not marked by <paramref name="columns"/> zeroed): one contiguous run of chunks per core, each with its own
    /// state, merged in order afterwards, so sums are the same from run to run.
    /// </summary>
    private static void ForChunks<TLocal>(float[][] rows, int dimension, bool[]? columns, Func<TLocal> init, Action<int, int, double[], TLocal> body, Action<TLocal> merge)
    {
        var m = rows.Length;
        var chunks = (dimension + Chunk - 1) / Chunk;
        var parts = Math.Min(Environment.ProcessorCount, chunks);
        var locals = new TLocal[parts];
        Parallel.For(0, parts, p =>
        {
            var local = init();
            var x = new double[m * Math.Min(Chunk, dimension)];
            for (var c = (int)((long)chunks * p / parts); c < (int)((long)chunks * (p + 1) / parts); c++)
            {
                var j0 = c * Chunk;
                var w = Math.Min(Chunk, dimension - j0);
                for (var i = 0; i < m; i++)
                {
                    var dst = x.AsSpan(i * w, w);
                    TensorPrimitives.ConvertTruncating<float, double>(rows[i].AsSpan(j0, w), dst);
                    if (columns is not null)
                    {
                        for (var j = 0; j < w; j++)
                        {
                            if (!columns[j0 + j])
                            {
                                dst[j] = 0;
                            }
                        }
                    }
                }

                body(j0, w, x, local);
            }

            locals[p] = local;
        });
        foreach (var local in locals)
        {
            merge(local);
        }
    }
}
