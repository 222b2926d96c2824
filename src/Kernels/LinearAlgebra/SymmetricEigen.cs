using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace WoodFisher.Kernels;

public static partial class LinearAlgebra
{
    /// <summary>
    /// Eigen-decomposition of a real symmetric matrix, A = V·diag(λ)·Vᵀ, in float64.
    /// <paramref name="a"/> is n × n row-major and only its lower triangle (j ≤ i) is read.
    /// <paramref name="values"/> (length n) receives λ in ascending order; <paramref name="vectors"/> (n × n row-major)
    /// receives the orthonormal eigenvectors as columns: element [i·n + j] is component i of the eigenvector of λⱼ.
    /// Householder reduction to tridiagonal form T = QᵀAQ followed by implicit QL/QR with Wilkinson shifts
    /// (<see cref="TridiagonalQl"/>: splits at negligible off-diagonals, so exactly-zero rows and clustered eigenvalues
    /// deflate at once; ≈ 2n³ flops for the reduction, 4n³/3 to form Q, about 6n³ for the QL rotations of the vectors; about 0.3 s for
    /// n = 1000 on one core); the backward error is a small multiple of n·ε·‖A‖.
    /// </summary>
    /// <exception cref="ArgumentException">A span has the wrong length, or an entry of the lower triangle is NaN or infinite.</exception>
    /// <exception cref="EigenNotConvergedException">30·n QL sweeps did not converge (not expected for finite input).</exception>
    public static void SymmetricEigen(ReadOnlySpan<double> a, int n, Span<double> values, Span<double> vectors)
    {
        CheckSquare(a.Length, n);
        CheckEigenOutput(values.Length, n, nameof(values));
        if (vectors.Length != n * n)
        {
            throw new ArgumentException($"Eigenvector output must have {n} × {n} = {n * n} elements, got {vectors.Length}.", nameof(vectors));
        }

        EigenCore(a, n, values, vectors, wantVectors: true);
    }

    /// <summary>
    /// Eigenvalues only of the real symmetric matrix A (n × n row-major, lower triangle read), ascending, in float64:
    /// the Householder reduction of <see cref="SymmetricEigen(ReadOnlySpan{double}, int, Span{double}, Span{double})"/>
    /// (≈ 2n³ flops) followed by an O(n²) QL iteration.
    /// </summary>
    /// <exception cref="ArgumentException">A span has the wrong length, or an entry of the lower triangle is NaN or infinite.</exception>
    /// <exception cref="EigenNotConvergedException">30·n QL sweeps did not converge (not expected for finite input).</exception>
    public static void SymmetricEigenvalues(ReadOnlySpan<double> a, int n, Span<double> values)
    {
        CheckSquare(a.Length, n);
        CheckEigenOutput(values.Length, n, nameof(values));
        EigenCore(a, n, values, [], wantVectors: false);
    }

    /// <summary>
    /// Writes V·diag(f)·Vᵀ into <paramref name="result"/> (n × n row-major, symmetric): a function of a symmetric matrix
    /// from its eigen-decomposition, e.g. fᵢ = 1/(λᵢ + δ) for the damped inverse (A + δI)⁻¹. <paramref name="vectors"/> is
    /// n × n row-major with eigenvectors as columns (the layout of
    /// <see cref="SymmetricEigen(ReadOnlySpan{double}, int, Span{double}, Span{double})"/>); <paramref name="factors"/> has n entries.
    /// One GEMM of n³ multiply-adds over the lower triangle, mirrored.
    /// </summary>
    public static void ReconstructFromEigen(ReadOnlySpan<double> vectors, ReadOnlySpan<double> factors, int n, Span<double> result)
    {
        CheckSquare(vectors.Length, n);
        CheckEigenOutput(factors.Length, n, nameof(factors));
        CheckSquare(result.Length, n);
        var nn = n * n;
        var scaled = ArrayPool<double>.Shared.Rent(nn);
        var v = ArrayPool<double>.Shared.Rent(nn);
        var c = ArrayPool<double>.Shared.Rent(nn);
        try
        {
            vectors.CopyTo(v);
            for (var i = 0; i < n; i++)
            {
                TensorPrimitives.Multiply(vectors.Slice(i * n, n), factors, scaled.AsSpan(i * n, n));
            }

            var cs = c.AsSpan(0, nn);
            cs.Clear();
            Gemm.Multiply(n, n, n, 1.0, StridedMatrix<double>.RowMajor(scaled, 0, n), StridedMatrix<double>.Transposed(v, 0, n), c, 0, n, lowerOnly: true);
            Gemm.MirrorLower<double>(cs, n);
            cs.CopyTo(result);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(scaled);
            ArrayPool<double>.Shared.Return(v);
            ArrayPool<double>.Shared.Return(c);
        }
    }

    private static void CheckEigenOutput(int length, int n, string name)
    {
        if (length != n)
        {
            throw new ArgumentException($"Eigenvalue output must have {n} elements, got {length}.", name);
        }
    }

    private static void EigenCore(ReadOnlySpan<double> a, int n, Span<double> values, Span<double> vectors, bool wantVectors)
    {
        if (n == 0)
        {
            return;
        }

        var live = ArrayPool<int>.Shared.Rent(n);
        try
        {
            var k = LiveRows(a, n, live);
            if (k < n)
            {
                EigenOfLiveRows(a, n, live.AsSpan(0, k), values, vectors, wantVectors);
                return;
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(live);
        }

        var nn = n * n;
        var work = ArrayPool<double>.Shared.Rent(nn);
        var q = wantVectors ? ArrayPool<double>.Shared.Rent(nn) : null;
        var scratch = ArrayPool<double>.Shared.Rent(6 * n);
        var order = ArrayPool<int>.Shared.Rent(n);
        try
        {
            var w = work.AsSpan(0, nn);
            var scale = LoadSymmetric(a, n, w);
            var d = scratch.AsSpan(0, n);
            var e = scratch.AsSpan(n, n);
            var tau = scratch.AsSpan(2 * n, n);

            // Working at unit max-norm keeps the squares in the Householder norms and QL rotations clear of over/underflow.
            if (scale > 0)
            {
                TensorPrimitives.Divide(w, scale, w);
            }

            Tridiagonalize(w, n, d, e, tau, scratch.AsSpan(3 * n, n), scratch.AsSpan(4 * n, n), scratch.AsSpan(5 * n, n));
            if (q is not null)
            {
                FormQTransposed(w, n, tau, q.AsSpan(0, nn));
            }

            TridiagonalQl(d, e, n, q);
            var idx = order.AsSpan(0, n);
            for (var i = 0; i < n; i++)
            {
                idx[i] = i;
            }

            var keys = e;
            d.CopyTo(keys);
            keys.Sort(idx);
            for (var j = 0; j < n; j++)
            {
                values[j] = keys[j] * scale;
            }

            if (q is not null)
            {
                // Row r of q is the eigenvector of d[r]; the public layout has eigenvectors as columns.
                for (var j = 0; j < n; j++)
                {
                    var src = q.AsSpan(idx[j] * n, n);
                    for (var i = 0; i < n; i++)
                    {
                        vectors[(i * n) + j] = src[i];
                    }
                }
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(work);
            if (q is not null)
            {
                ArrayPool<double>.Shared.Return(q);
            }

            ArrayPool<double>.Shared.Return(scratch);
            ArrayPool<int>.Shared.Return(order);
        }
    }

    /// <summary>Indices of the rows of A (lower triangle read) that hold a non-zero entry, ascending; returns their count.</summary>
    private static int LiveRows(ReadOnlySpan<double> a, int n, Span<int> live)
    {
        var k = 0;
        for (var i = 0; i < n; i++)
        {
            var zero = true;
            for (var j = 0; zero && j < n; j++)
            {
                zero = (j <= i ? a[(i * n) + j] : a[(j * n) + i]) == 0;
            }

            if (!zero)
            {
                live[k++] = i;
            }
        }

        return k;
    }

    /// <summary>
    /// An exactly-zero row and column i (a dead unit's weights in a Hessian) is the exact eigenpair (0, eᵢ): the live rows
    /// are solved alone, which keeps those zeros exact rather than smeared to ±ε by the reflectors, and saves their share of
    /// the n³ work. The zero eigenvalues are placed between the negative and the non-negative ones.
    /// </summary>
    private static void EigenOfLiveRows(ReadOnlySpan<double> a, int n, ReadOnlySpan<int> live, Span<double> values, Span<double> vectors, bool wantVectors)
    {
        var k = live.Length;
        var sub = ArrayPool<double>.Shared.Rent(Math.Max(1, k * k));
        var subValues = ArrayPool<double>.Shared.Rent(Math.Max(1, k));
        var subVectors = wantVectors ? ArrayPool<double>.Shared.Rent(Math.Max(1, k * k)) : null;
        try
        {
            for (var r = 0; r < k; r++)
            {
                for (var c = 0; c <= r; c++)
                {
                    sub[(r * k) + c] = a[(live[r] * n) + live[c]];
                }
            }

            EigenCore(sub.AsSpan(0, k * k), k, subValues.AsSpan(0, k), subVectors is null ? [] : subVectors.AsSpan(0, k * k), wantVectors);
            var negative = 0;
            while (negative < k && subValues[negative] < 0)
            {
                negative++;
            }

            var zeros = n - k;
            values.Clear();
            subValues.AsSpan(0, negative).CopyTo(values);
            subValues.AsSpan(negative, k - negative).CopyTo(values[(negative + zeros)..]);
            if (subVectors is null)
            {
                return;
            }

            vectors.Clear();
            for (var j = 0; j < k; j++)
            {
                var column = j < negative ? j : j + zeros;
                for (var r = 0; r < k; r++)
                {
                    vectors[(live[r] * n) + column] = subVectors[(r * k) + j];
                }
            }

            for (int i = 0, r = 0, z = negative; i < n; i++)
            {
                if (r < k && live[r] == i)
                {
                    r++;
                }
                else
                {
                    vectors[(i * n) + z++] = 1;
                }
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(sub);
            ArrayPool<double>.Shared.Return(subValues);
            if (subVectors is not null)
            {
                ArrayPool<double>.Shared.Return(subVectors);
            }
        }
    }

    /// <summary>Copies the lower triangle of A into the full symmetric <paramref name="w"/>; returns max |aᵢⱼ|.</summary>
    private static double LoadSymmetric(ReadOnlySpan<double> a, int n, Span<double> w)
    {
        var scale = 0.0;
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                var v = a[(i * n) + j];
                if (!double.IsFinite(v))
                {
                    throw new ArgumentException($"Matrix entry ({i}, {j}) is {v}; the symmetric eigensolver needs finite input.", nameof(a));
                }

                w[(i * n) + j] = v;
                w[(j * n) + i] = v;
                scale = Math.Max(scale, Math.Abs(v));
            }
        }

        return scale;
    }
}
