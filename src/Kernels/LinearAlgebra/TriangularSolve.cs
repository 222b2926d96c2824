using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace WoodFisher.Kernels;

public static partial class LinearAlgebra
{
    /// <summary>Block size of the blocked (GEMM-based) triangular solves and inverse; smaller matrices run unblocked.</summary>
    private const int Nb = 64;

    /// <summary>
    /// Solves L X = B (or Lᵀ X = B with <paramref name="transpose"/>) in place for the lower-triangular L (n × n row-major,
    /// non-zero diagonal; the strict upper triangle is not read). <paramref name="b"/> is n × <paramref name="columns"/>
    /// row-major and is overwritten by X. Forward (or back) substitution by blocks of rows, the off-diagonal blocks
    /// applied by GEMM: n²·columns multiply-adds.
    /// </summary>
    /// <exception cref="ArgumentException">A span has the wrong length.</exception>
    public static void SolveTriangular<T>(ReadOnlySpan<T> l, int n, Span<T> b, int columns = 1, bool transpose = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSquare(l.Length, n);
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        if (b.Length != n * columns)
        {
            throw new ArgumentException($"Right-hand side must have {n} × {columns} elements, got {b.Length}.", nameof(b));
        }

        // Narrow right-hand sides would leave GEMM tiles mostly padding: one diagonal block of n then.
        var nb = columns >= 8 ? Nb : Math.Max(n, 1);
        for (var i0 = 0; i0 < n; i0 += nb)
        {
            // Forward: block rows top-down, each first updated by the rows solved above it; back: bottom-up, by those below.
            var start = transpose ? Math.Max(0, n - i0 - nb) : i0;
            var ib = Math.Min(nb, n - i0);
            var end = start + ib;
            var bi = b.Slice(start * columns, ib * columns);
            if (transpose && end < n)
            {
                // B_I −= L[end:, I]ᵀ·X[end:]
                Multiply(true, false, ib, columns, n - end, -T.One, l[((end * n) + start)..], n, b[(end * columns)..], columns, T.One, bi, columns);
            }
            else if (!transpose && start > 0)
            {
                // B_I −= L[I, :start]·X[:start]
                Multiply(false, false, ib, columns, start, -T.One, l[(start * n)..], n, b, columns, T.One, bi, columns);
            }

            SolveDiagonalBlock(l[((start * n) + start)..], n, ib, bi, columns, transpose);
        }
    }

    /// <summary>Float64 form of <see cref="SolveTriangular{T}"/>.</summary>
    public static void SolveTriangular(ReadOnlySpan<double> l, int n, Span<double> b, int columns = 1, bool transpose = false)
        => SolveTriangular<double>(l, n, b, columns, transpose);

    /// <summary>Float32 form of <see cref="SolveTriangular{T}"/>.</summary>
    public static void SolveTriangular(ReadOnlySpan<float> l, int n, Span<float> b, int columns = 1, bool transpose = false)
        => SolveTriangular<float>(l, n, b, columns, transpose);

    /// <summary>
    /// Replaces the lower-triangular L (n × n, non-zero diagonal; the strict upper triangle is ignored and zeroed)
    /// by L⁻¹ in place.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LowerTriangularInvert<T>(Span<T> l, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSquare(l.Length, n);
        for (var i = 0; i < n; i++)
        {
            l.Slice((i * n) + i + 1, n - i - 1).Clear();
        }

        if (n <= 2 * Nb)
        {
            LowerInverseUnblocked(l, n, n);
            return;
        }

        using var bufRental = new Rental<T>(n * n);
        var buf = bufRental.Array;
        l.CopyTo(buf);
        LowerInverseBlocked(buf, n);
        buf.AsSpan(0, n * n).CopyTo(l);
    }

    /// <summary>
    /// Substitution with the ib × ib diagonal block at the start of <paramref name="l"/> (leading dimension ld), reading L
    /// by rows either way: forward, x_i = (b_i − L[i, :i]·x[:i]) / L_ii; back, x_i = b_i / L_ii then b[:i] −= L[i, :i]ᵀx_i.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SolveDiagonalBlock<T>(ReadOnlySpan<T> l, int ld, int ib, Span<T> b, int columns, bool transpose)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (var s = 0; s < ib; s++)
        {
            var i = transpose ? ib - 1 - s : s;
            var bi = b.Slice(i * columns, columns);
            var row = l.Slice(i * ld, i);
            if (!transpose)
            {
                if (columns == 1)
                {
                    bi[0] -= Cpu.SimdOps.Dot<T>(row, b[..i]);
                }
                else
                {
                    for (var k = 0; k < i; k++)
                    {
                        Cpu.SimdOps.Axpy(-row[k], b.Slice(k * columns, columns), bi);
                    }
                }
            }

            TensorPrimitives.Divide(bi, l[(i * ld) + i], bi);
            if (!transpose)
            {
                continue;
            }

            if (columns == 1)
            {
                Cpu.SimdOps.Axpy(-bi[0], row, b[..i]);
            }
            else
            {
                for (var k = 0; k < i; k++)
                {
                    Cpu.SimdOps.Axpy(-row[k], bi, b.Slice(k * columns, columns));
                }
            }
        }
    }

    /// <summary>Row-oriented L⁻¹ of the n × n lower triangle at the start of <paramref name="l"/> (leading dimension ld).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LowerInverseUnblocked<T>(Span<T> l, int n, int ld)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var tmpRental = new Rental<T>(n);
        var tmp = tmpRental.Array;
        for (var i = 0; i < n; i++)
        {
            var r = tmp.AsSpan(0, i);
            r.Clear();
            var rowI = l.Slice(i * ld, i + 1);
            for (var k = 0; k < i; k++)
            {
                Cpu.SimdOps.Axpy(rowI[k], l.Slice(k * ld, k + 1), r[..(k + 1)]);
            }

            var inv = T.One / rowI[i];
            Cpu.SimdOps.Scale<T>(r, -inv, rowI[..i]);
            rowI[i] = inv;
        }
    }

    /// <summary>
    /// Blocked L⁻¹ by block rows I: M_II = L_II⁻¹, M[I, :I] = −M_II·(L[I, :I]·M[:I, :I]) by GEMM (strict upper triangle zero on entry).
    /// </summary>
    private static void LowerInverseBlocked<T>(T[] l, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var tRental = new Rental<T>(Nb * n);
        var t = tRental.Array;
        using var dRental = new Rental<T>(Nb * Nb);
        var d = dRental.Array;
        for (var i0 = 0; i0 < n; i0 += Nb)
        {
            var ib = Math.Min(Nb, n - i0);
            var rowStart = (long)i0 * n;
            LowerInverseUnblocked(l.AsSpan((int)(rowStart + i0)), ib, n);
            if (i0 == 0)
            {
                continue;
            }

            var ts = t.AsSpan(0, ib * i0);
            ts.Clear();
            Gemm.Multiply(ib, i0, i0, T.One, StridedMatrix<T>.RowMajor(l, rowStart, n), StridedMatrix<T>.RowMajor(l, 0, n), t, 0, i0);
            var ds = d.AsSpan(0, ib * ib);
            for (var i = 0; i < ib; i++)
            {
                l.AsSpan((int)(rowStart + ((long)i * n) + i0), ib).CopyTo(ds.Slice(i * ib, ib));
                l.AsSpan((int)(rowStart + ((long)i * n)), i0).Clear();
            }

            Gemm.Multiply(ib, i0, ib, -T.One, StridedMatrix<T>.RowMajor(d, 0, ib), StridedMatrix<T>.RowMajor(t, 0, i0), l, rowStart, n);
        }
    }
}
