using System.Numerics.Tensors;

namespace WoodFisher.Kernels;

public static partial class LinearAlgebra
{
    /// <summary>
    /// Solves the symmetric system A x = b (A n × n row-major; <paramref name="a"/> and <paramref name="b"/> are copied) by the
    /// one policy every symmetric solve uses: Cholesky when A is numerically positive definite, Gaussian elimination with
    /// partial pivoting otherwise.
    /// </summary>
    /// <exception cref="InvalidOperationException">A is singular to working precision.</exception>
    public static double[] SolveSymmetric(ReadOnlySpan<double> a, int n, ReadOnlySpan<double> b)
    {
        CheckSquare(a.Length, n);
        var m = a.ToArray();
        var x = b.ToArray();
        if (TryCholeskyFactor(m, n))
        {
            CholeskySolve(m, n, x);
            return x;
        }

        a.CopyTo(m);
        b.CopyTo(x);
        return TrySolveLu(m, n, x)
            ? x
            : throw new InvalidOperationException($"The {n} × {n} system is singular to working precision.");
    }

    /// <summary>
    /// Solves A x = b in place by Gaussian elimination with partial pivoting (A n × n row-major, destroyed).
    /// Returns false when A is singular to working precision. The fallback for symmetric systems that are not
    /// numerically positive definite.
    /// </summary>
    public static bool TrySolveLu(Span<double> a, int n, Span<double> b)
    {
        CheckSquare(a.Length, n);
        if (b.Length != n)
        {
            throw new ArgumentException($"Right-hand side must have {n} elements, got {b.Length}.", nameof(b));
        }

        var scale = 0.0;
        foreach (var x in a)
        {
            scale = Math.Max(scale, Math.Abs(x));
        }

        var tiny = scale * n * double.Epsilon * 1e10;
        for (var col = 0; col < n; col++)
        {
            var piv = col;
            for (var r = col + 1; r < n; r++)
            {
                if (Math.Abs(a[(r * n) + col]) > Math.Abs(a[(piv * n) + col]))
                {
                    piv = r;
                }
            }

            var p = a[(piv * n) + col];
            if (!(Math.Abs(p) > tiny) || !double.IsFinite(p))
            {
                return false;
            }

            if (piv != col)
            {
                for (var j = 0; j < n; j++)
                {
                    (a[(col * n) + j], a[(piv * n) + j]) = (a[(piv * n) + j], a[(col * n) + j]);
                }

                (b[col], b[piv]) = (b[piv], b[col]);
            }

            for (var r = col + 1; r < n; r++)
            {
                var f = a[(r * n) + col] / p;
                if (f != 0)
                {
                    TensorPrimitives.MultiplyAdd(a.Slice((col * n) + col, n - col), -f, a.Slice((r * n) + col, n - col), a.Slice((r * n) + col, n - col));
                    b[r] -= f * b[col];
                }
            }
        }

        for (var i = n - 1; i >= 0; i--)
        {
            var s = b[i] - TensorPrimitives.Dot(a.Slice((i * n) + i + 1, n - i - 1), b.Slice(i + 1, n - i - 1));
            b[i] = s / a[(i * n) + i];
        }

        return true;
    }
}
