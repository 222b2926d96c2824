using System.Numerics;
using System.Numerics.Tensors;

namespace WoodFisher.Kernels;

/// <summary>
/// The one dense linear-algebra provider of the library, on row-major spans in float32 or float64: matrix products
/// (GEMM, with transposes and leading dimensions), symmetric rank-k products (SYRK), Cholesky factor, solve and inverse,
/// triangular solves and inverse, and the symmetric eigen-decomposition A = VΛVᵀ. Every product runs one packed
/// micro-kernel family chosen at run time (<see cref="KernelPath"/>: AVX-512, AVX2 or scalar), in parallel over the cores
/// where asked.
/// </summary>
public static partial class LinearAlgebra
{
    /// <summary>The micro-kernel family the products run on this machine.</summary>
    public static SimdPath KernelPath => SimdPaths.Current;

    /// <summary>
    /// General matrix product C = α·op(A)·op(B) + β·C, row-major, op(X) = X or Xᵀ. op(A) is m × k: A is stored m × k
    /// (k × m when <paramref name="transposeA"/>) with row stride <paramref name="lda"/>; op(B) is k × n: B is stored k × n
    /// (n × k when <paramref name="transposeB"/>) with row stride <paramref name="ldb"/>; C is m × n with row stride
    /// <paramref name="ldc"/> and must not overlap A or B. With β = 0, C is not read (NaNs in it do not propagate).
    /// 2mnk flops; with <paramref name="parallel"/>, spread over the cores.
    /// </summary>
    /// <exception cref="ArgumentException">A dimension is negative, a stride too small, or a span too short for its shape.</exception>
    public static unsafe void Multiply<T>(bool transposeA, bool transposeB, int m, int n, int k, T alpha, ReadOnlySpan<T> a, int lda,
        ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc, bool parallel = true)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        CheckOperand(b.Length, transposeB ? n : k, transposeB ? k : n, ldb, "B", nameof(b));
        if (!Prepare(transposeA, m, n, k, alpha, a.Length, lda, beta, c, ldc))
        {
            return;
        }

        fixed (T* pa = a, pb = b, pc = c)
        {
            Gemm.Multiply(m, n, k, alpha, PinnedMatrix<T>.RowMajor(pa, lda, transposeA), PinnedMatrix<T>.RowMajor(pb, ldb, transposeB), pc, ldc, false, parallel);
        }
    }

    /// <summary>
    /// C = op(A)·op(B), or C += op(A)·op(B) with <paramref name="accumulate"/>, for contiguous row-major operands (the
    /// leading dimensions are the stored row lengths): see
    /// <see cref="Multiply{T}(bool, bool, int, int, int, T, ReadOnlySpan{T}, int, ReadOnlySpan{T}, int, T, Span{T}, int, bool)"/>.
    /// </summary>
    public static void Multiply<T>(bool transposeA, bool transposeB, int m, int n, int k, ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c,
        bool accumulate = false, bool parallel = true)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Multiply(transposeA, transposeB, m, n, k, T.One, a, transposeA ? m : k, b, transposeB ? k : n, accumulate ? T.One : T.Zero, c, n, parallel);

    /// <summary>
    /// Symmetric rank-k product C = α·op(A)·op(A)ᵀ + β·C (SYRK) with op(A) n × k: A stored n × k (k × n when
    /// <paramref name="transpose"/>, giving α·AᵀA, the Gram matrix of A's rows) with row stride <paramref name="lda"/>.
    /// Only the lower triangle's register tiles are computed (about half of GEMM's 2n²k flops), then mirrored: C (n × n,
    /// row stride <paramref name="ldc"/>) comes back full and exactly symmetric.
    /// </summary>
    /// <exception cref="ArgumentException">A dimension is negative, a stride too small, or a span too short for its shape.</exception>
    public static unsafe void SymmetricRankK<T>(bool transpose, int n, int k, T alpha, ReadOnlySpan<T> a, int lda, T beta, Span<T> c, int ldc,
        bool parallel = true)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSymmetricRankK(transpose, n, k, a.Length, lda, c.Length, ldc);
        Scale(c, n, n, ldc, beta);
        if (n == 0 || k == 0 || alpha == T.Zero)
        {
            return;
        }

        fixed (T* pa = a, pc = c)
        {
            Gemm.Multiply(n, n, k, alpha, PinnedMatrix<T>.RowMajor(pa, lda, transpose), PinnedMatrix<T>.RowMajor(pa, lda, !transpose), pc, ldc, true, parallel);
        }

        SymmetricMirror.LowerToUpper(c, n, ldc);
    }

    /// <summary>Replaces the n × n row-major A by its symmetric part (A + Aᵀ)/2.</summary>
    public static void Symmetrize<T>(Span<T> a, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSquare(a.Length, n);
        var half = T.One / (T.One + T.One);
        for (var i = 0; i < n; i++)
        {
            for (var j = i + 1; j < n; j++)
            {
                var s = half * (a[(i * n) + j] + a[(j * n) + i]);
                a[(i * n) + j] = s;
                a[(j * n) + i] = s;
            }
        }
    }

    /// <summary>Float64 form of <see cref="Symmetrize{T}"/>.</summary>
    public static void Symmetrize(Span<double> a, int n) => Symmetrize<double>(a, n);

    /// <summary>
    /// Checks A (m × k, stored transposed when <paramref name="transposeA"/>) and C (m × n), applies β to C, and tells
    /// whether any product remains to be added.
    /// </summary>
    private static bool Prepare<T>(bool transposeA, int m, int n, int k, T alpha, int aLength, int lda, T beta, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        CheckOperand(aLength, transposeA ? k : m, transposeA ? m : k, lda, "A", "a");
        CheckOperand(c.Length, m, n, ldc, "C", nameof(c));
        Scale(c, m, n, ldc, beta);
        return m != 0 && n != 0 && k != 0 && alpha != T.Zero;
    }

    private static void Scale<T>(Span<T> c, int rows, int cols, int ldc, T beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (beta == T.One)
        {
            return;
        }

        for (var i = 0; i < rows; i++)
        {
            var row = c.Slice(i * ldc, cols);
            if (beta == T.Zero)
            {
                row.Clear();
            }
            else
            {
                TensorPrimitives.Multiply(row, beta, row);
            }
        }
    }

    /// <summary>Checks the shapes of a SYRK: op(A) n × k (A stored k × n when <paramref name="transpose"/>), C n × n.</summary>
    private static void CheckSymmetricRankK(bool transpose, int n, int k, int aLength, int lda, int cLength, int ldc)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        CheckOperand(aLength, transpose ? k : n, transpose ? n : k, lda, "A", "a");
        CheckOperand(cLength, n, n, ldc, "C", "c");
    }

    private static void CheckOperand(int length, int rows, int cols, int ld, string name, string parameter)
    {
        if (ld < Math.Max(1, cols))
        {
            throw new ArgumentException($"{name} is stored {rows} × {cols}: its row stride must be at least {Math.Max(1, cols)}, got {ld}.", parameter);
        }

        var need = rows == 0 || cols == 0 ? 0 : ((long)(rows - 1) * ld) + cols;
        if (length < need)
        {
            throw new ArgumentException($"{name} is stored {rows} × {cols} with row stride {ld}: it needs {need} elements, got {length}.", parameter);
        }
    }

    private static void CheckSquare(int length, int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (length != n * n)
        {
            throw new ArgumentException($"Expected an {n} × {n} matrix ({n * n} elements), got {length}.");
        }
    }
}
