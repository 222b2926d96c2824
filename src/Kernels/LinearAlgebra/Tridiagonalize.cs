using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace WoodFisher.Kernels;

public static partial class LinearAlgebra
{
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
}
