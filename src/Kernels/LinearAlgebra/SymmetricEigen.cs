using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace WoodFisher.Kernels;

public static partial class LinearAlgebra
{
    /// <summary>QL iterations allowed per eigenvalue; two or three are typical with the Wilkinson shift.</summary>
    private const int MaxQlIterations = 30;

    /// <summary>2⁻⁵³: an off-diagonal below u·(|dₘ| + |dₘ₊₁|) is negligible in float64 and is set to zero.</summary>
    private const double UnitRoundoff = 1.1102230246251565e-16;

    /// <summary>
    /// Eigen-decomposition of a real symmetric matrix, A = V·diag(λ)·Vᵀ, in float64.
    /// <paramref name="a"/> is n × n row-major and only its lower triangle (j ≤ i) is read.
    /// <paramref name="values"/> (length n) receives λ in ascending order; <paramref name="vectors"/> (n × n row-major)
    /// receives the orthonormal eigenvectors as columns: element [i·n + j] is component i of the eigenvector of λⱼ.
    /// Householder reduction to tridiagonal form T = QᵀAQ followed by implicit QL with Wilkinson shifts
    /// (≈ 2n³ flops for the reduction, 4n³/3 to form Q, about 6n³ for the QL rotations of the vectors; about 0.3 s for
    /// n = 1000 on one core); the backward error is a small multiple of n·ε·‖A‖.
    /// </summary>
    /// <exception cref="ArgumentException">A span has the wrong length, or an entry of the lower triangle is NaN or infinite.</exception>
    /// <exception cref="EigenNotConvergedException">The QL iteration did not converge (not expected for finite input).</exception>
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
    /// <exception cref="EigenNotConvergedException">The QL iteration did not converge (not expected for finite input).</exception>
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

    /// <summary>
    /// Householder tridiagonalization T = QᵀAQ, Q = H₀H₁⋯H_{n−3}, Hₖ = I − τₖvₖvₖᵀ, on the full symmetric row-major
    /// <paramref name="w"/>. Each step updates the trailing block as A ← A − vwᵀ − wvᵀ with w = p − (τ/2)(pᵀv)v, p = τAv;
    /// that update is applied lazily, row by row, in the same pass that forms the next p, so the trailing block is
    /// streamed once per step. vₖ (vₖ[0] = 1) is left in row k, columns k+1…n−1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tridiagonalize(Span<double> w, int n, Span<double> d, Span<double> e, Span<double> tau, Span<double> pv, Span<double> pw, Span<double> p)
    {
        var pending = false;
        for (var k = 0; k < n; k++)
        {
            var rowK = w.Slice((k * n) + k, n - k);
            if (pending)
            {
                Rank2Row(rowK, pv[k], pw[k], pv[k..], pw[k..]);
            }

            d[k] = rowK[0];
            tau[k] = 0;
            if (k == n - 1)
            {
                e[k] = 0;
                break;
            }

            var v = rowK[1..];
            var t = 0.0;
            e[k] = v[0];
            if (v.Length > 1)
            {
                var alpha = v[0];
                var tailNorm = TensorPrimitives.Norm<double>(v[1..]);
                if (tailNorm != 0)
                {
                    var beta = -double.CopySign(double.Hypot(alpha, tailNorm), alpha);
                    t = (beta - alpha) / beta;
                    TensorPrimitives.Multiply(v[1..], 1 / (alpha - beta), v[1..]);
                    v[0] = 1;
                    e[k] = beta;
                }
            }

            tau[k] = t;
            for (var i = k + 1; i < n; i++)
            {
                var row = w.Slice((i * n) + k + 1, n - k - 1);
                if (pending)
                {
                    Rank2Row(row, pv[i], pw[i], pv[(k + 1)..], pw[(k + 1)..]);
                }

                if (t != 0)
                {
                    p[i] = t * TensorPrimitives.Dot<double>(row, v);
                }
            }

            pending = t != 0;
            if (pending)
            {
                var pk = p[(k + 1)..];
                var half = 0.5 * t * TensorPrimitives.Dot<double>(pk, v);
                TensorPrimitives.MultiplyAdd(v, -half, pk, pw[(k + 1)..]);
                v.CopyTo(pv[(k + 1)..]);
            }
        }
    }

    /// <summary>row −= vᵢ·w + wᵢ·v: one row of the symmetric rank-2 update A − vwᵀ − wvᵀ.</summary>
    private static void Rank2Row(Span<double> row, double vi, double wi, ReadOnlySpan<double> v, ReadOnlySpan<double> w)
    {
        var len = row.Length;
        TensorPrimitives.MultiplyAdd(w[..len], -vi, row, row);
        TensorPrimitives.MultiplyAdd(v[..len], -wi, row, row);
    }

    /// <summary>
    /// Forms Qᵀ = H_{n−3}⋯H₀ in <paramref name="q"/> (row-major) by right-multiplying reflectors in descending order:
    /// M ← M(I − τvvᵀ) touches only rows and columns k+1…n−1, one fused dot-and-axpy pass per row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FormQTransposed(ReadOnlySpan<double> w, int n, ReadOnlySpan<double> tau, Span<double> q)
    {
        q.Clear();
        for (var i = 0; i < n; i++)
        {
            q[(i * n) + i] = 1;
        }

        for (var k = n - 3; k >= 0; k--)
        {
            var t = tau[k];
            if (t == 0)
            {
                continue;
            }

            var v = w.Slice((k * n) + k + 1, n - k - 1);
            for (var i = k + 1; i < n; i++)
            {
                var row = q.Slice((i * n) + k + 1, n - k - 1);
                var y = TensorPrimitives.Dot(row, v);
                if (y != 0)
                {
                    TensorPrimitives.MultiplyAdd(v, -t * y, row, row);
                }
            }
        }
    }

    /// <summary>
    /// Implicit QL with Wilkinson shifts on the symmetric tridiagonal (d, e), e[i] coupling i and i+1. Each sweep chases
    /// the bulge from the bottom of the unreduced block l…m up to l with Givens rotations Gᵢ; with <paramref name="z"/>
    /// the rotations are applied to rows i, i+1 (rows of z are the transposed eigenvector basis, so they are contiguous).
    /// On return d holds the eigenvalues (unsorted) and row r of z the eigenvector of d[r].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TridiagonalQl(Span<double> d, Span<double> e, int n, double[]? z)
    {
        for (var l = 0; l < n; l++)
        {
            var iterations = 0;
            while (true)
            {
                var m = l;
                for (; m < n - 1; m++)
                {
                    var dd = Math.Abs(d[m]) + Math.Abs(d[m + 1]);
                    if (Math.Abs(e[m]) <= UnitRoundoff * dd)
                    {
                        break;
                    }
                }

                if (m == l)
                {
                    break;
                }

                if (++iterations > MaxQlIterations)
                {
                    throw new EigenNotConvergedException(l, MaxQlIterations);
                }

                // Shift μ: the eigenvalue of the leading 2 × 2 [dₗ eₗ; eₗ dₗ₊₁] nearer dₗ; g starts as dₘ − μ.
                var g = (d[l + 1] - d[l]) / (2 * e[l]);
                var r = double.Hypot(g, 1);
                g = d[m] - d[l] + (e[l] / (g + double.CopySign(r, g)));
                double s = 1, c = 1, p = 0;
                var underflow = false;
                for (var i = m - 1; i >= l; i--)
                {
                    var f = s * e[i];
                    var b = c * e[i];
                    r = double.Hypot(f, g);
                    e[i + 1] = r;
                    if (r == 0)
                    {
                        // The bulge vanished: the block splits at i+1; restart on the smaller problem.
                        d[i + 1] -= p;
                        e[m] = 0;
                        underflow = true;
                        break;
                    }

                    s = f / r;
                    c = g / r;
                    g = d[i + 1] - p;
                    r = ((d[i] - g) * s) + (2 * c * b);
                    p = s * r;
                    d[i + 1] = g + p;
                    g = (c * r) - b;
                    if (z is not null)
                    {
                        Rotate(z.AsSpan(i * n, n), z.AsSpan((i + 1) * n, n), c, s);
                    }
                }

                if (underflow)
                {
                    continue;
                }

                d[l] -= p;
                e[l] = g;
                e[m] = 0;
            }
        }
    }

    /// <summary>(x, y) ← (c·x − s·y, s·x + c·y).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Rotate(Span<double> x, Span<double> y, double c, double s)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<double>.Count)
        {
            var vx = MemoryMarshal.Cast<double, Vector<double>>(x);
            var vy = MemoryMarshal.Cast<double, Vector<double>>(y);
            var vc = new Vector<double>(c);
            var vs = new Vector<double>(s);
            for (var k = 0; k < vx.Length; k++)
            {
                var xk = vx[k];
                var yk = vy[k];
                vx[k] = (vc * xk) - (vs * yk);
                vy[k] = (vs * xk) + (vc * yk);
            }

            i = vx.Length * Vector<double>.Count;
        }

        for (; i < x.Length; i++)
        {
            var xk = x[i];
            var yk = y[i];
            x[i] = (c * xk) - (s * yk);
            y[i] = (s * xk) + (c * yk);
        }
    }
}
