using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// A dense row-major weight matrix: the baseline every sparse format is measured against. y = Wx takes four rows at a time
/// (each register of x serves four rows, and four independent FMA chains hide the FMA latency that bounds a single dot
/// product), streaming W once from memory that starts on a cache line; C = WB is the dense core's packed GEMM.
/// </summary>
public sealed class DenseWeights : IWeightMatrix
{
    private readonly PinnedAligned<float> _values;

    /// <summary>Copies <paramref name="values"/> (rows·columns, row-major) into memory that starts on a cache line.</summary>
    public DenseWeights(int rows, int columns, float[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        WeightChecks.Dense(values.Length, rows, columns);
        Rows = rows;
        Columns = columns;
        _values = new PinnedAligned<float>(values);
    }

    /// <inheritdoc/>
    public int Rows { get; }

    /// <inheritdoc/>
    public int Columns { get; }

    /// <summary>The values, row-major.</summary>
    public ReadOnlySpan<float> Values => _values.Span;

    /// <inheritdoc/>
    public WeightFormat Format => WeightFormat.Dense;

    /// <inheritdoc/>
    public long StoredValues => _values.Length;

    /// <inheritdoc/>
    public long StoredBytes => 4L * _values.Length;

    /// <inheritdoc/>
    public void MultiplyVector(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> bias = default)
    {
        WeightChecks.Vector(this, x.Length, y.Length, bias.Length);
        unsafe
        {
            fixed (float* px = x, py = y, pb = bias)
            {
                var b = bias.IsEmpty ? null : pb;
                switch (SimdPaths.Current)
                {
                    case SimdPath.Avx512:
                        Rows4<Vector512<float>, Simd512<float>>(_values.Pointer, Rows, Columns, px, py, b);
                        break;
                    case SimdPath.Avx2:
                        Rows4<Vector256<float>, Simd256<float>>(_values.Pointer, Rows, Columns, px, py, b);
                        break;
                    default:
                        Rows4<float, SimdScalar<float>>(_values.Pointer, Rows, Columns, px, py, b);
                        break;
                }
            }
        }
    }

    /// <inheritdoc/>
    public void Multiply(ReadOnlySpan<float> b, int n, Span<float> c, ReadOnlySpan<float> bias = default)
    {
        WeightChecks.Product(this, b.Length, n, c.Length, bias.Length);
        unsafe
        {
            fixed (float* pb0 = b, pc0 = c, pbias0 = bias)
            {
                var (pb, pc, pbias) = ((nint)pb0, (nint)pc0, bias.IsEmpty ? 0 : (nint)pbias0);

                // One split over the cores per product, each part a one-core GEMM on its rows (or columns): the GEMM's own
                // parallel mode joins the cores once per 256-deep panel of W, and hands out 96-row blocks (300 rows give
                // one core 192 and the other 108), so for layer-sized products it costs more than it saves.
                SparseParallel.For(Rows, n, (long)Rows * Columns * n, (r0, r1, j0, j1) => MultiplyRange(r0, r1, j0, j1, (float*)pb, n, (float*)pc, (float*)pbias));
            }
        }
    }

    /// <inheritdoc/>
    public float[] ToDense() => _values.Span.ToArray();

    /// <summary>Rows [r0, r1) and columns [j0, j1) of C = WB + b1ᵀ (<paramref name="bias"/> may be null), on the calling thread.</summary>
    private unsafe void MultiplyRange(int r0, int r1, int j0, int j1, float* b, int n, float* c, float* bias)
    {
        var (rows, width) = (r1 - r0, j1 - j0);
        if (rows <= 0 || width <= 0)
        {
            return;
        }

        for (var r = r0; r < r1; r++)
        {
            new Span<float>(c + ((nint)r * n) + j0, width).Fill(bias == null ? 0f : bias[r]);
        }

        LinearAlgebra.Multiply(false, false, rows, width, Columns, 1f, new ReadOnlySpan<float>(_values.Pointer + ((nint)r0 * Columns), rows * Columns), Columns,
            new ReadOnlySpan<float>(b + j0, ((Columns - 1) * n) + width), n, 1f, new Span<float>(c + ((nint)r0 * n) + j0, ((rows - 1) * n) + width), n, parallel: false);
    }

    /// <summary>y = Wx (+ bias when not null), four rows per pass; the last pass repeats its last row and stores only the rows that exist.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Rows4<TV, TS>(float* w, int rows, int columns, float* x, float* y, float* bias)
        where TV : struct
        where TS : struct, ISimd<float, TV>
    {
        var n = TS.Count;
        for (var r = 0; r < rows; r += 4)
        {
            var last = Math.Min(rows, r + 4) - 1;
            var w0 = w + ((nint)r * columns);
            var w1 = w + ((nint)Math.Min(r + 1, last) * columns);
            var w2 = w + ((nint)Math.Min(r + 2, last) * columns);
            var w3 = w + ((nint)Math.Min(r + 3, last) * columns);
            TV a0 = TS.Zero, a1 = a0, a2 = a0, a3 = a0;
            var j = 0;
            for (; j + n <= columns; j += n)
            {
                var xv = TS.Load(x + j);
                a0 = TS.Fma(TS.Load(w0 + j), xv, a0);
                a1 = TS.Fma(TS.Load(w1 + j), xv, a1);
                a2 = TS.Fma(TS.Load(w2 + j), xv, a2);
                a3 = TS.Fma(TS.Load(w3 + j), xv, a3);
            }

            if (j < columns && columns >= n)
            {
                // One more register ending at the last column, its already-summed lanes zeroed in both operands.
                var at = columns - n;
                var keep = columns - j;
                var xv = TS.KeepLast(TS.Load(x + at), keep);
                a0 = TS.Fma(TS.KeepLast(TS.Load(w0 + at), keep), xv, a0);
                a1 = TS.Fma(TS.KeepLast(TS.Load(w1 + at), keep), xv, a1);
                a2 = TS.Fma(TS.KeepLast(TS.Load(w2 + at), keep), xv, a2);
                a3 = TS.Fma(TS.KeepLast(TS.Load(w3 + at), keep), xv, a3);
                j = columns;
            }

            var s = (TS.Sum(a0), TS.Sum(a1), TS.Sum(a2), TS.Sum(a3));
            for (; j < columns; j++)
            {
                s = (MathF.FusedMultiplyAdd(w0[j], x[j], s.Item1), MathF.FusedMultiplyAdd(w1[j], x[j], s.Item2),
                    MathF.FusedMultiplyAdd(w2[j], x[j], s.Item3), MathF.FusedMultiplyAdd(w3[j], x[j], s.Item4));
            }

            y[r] = bias == null ? s.Item1 : s.Item1 + bias[r];
            if (r + 1 <= last)
            {
                y[r + 1] = bias == null ? s.Item2 : s.Item2 + bias[r + 1];
            }

            if (r + 2 <= last)
            {
                y[r + 2] = bias == null ? s.Item3 : s.Item3 + bias[r + 2];
            }

            if (r + 3 <= last)
            {
                y[r + 3] = bias == null ? s.Item4 : s.Item4 + bias[r + 3];
            }
        }
    }
}
