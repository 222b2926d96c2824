using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// A dense row-major weight matrix: the baseline every sparse format is measured against. y = Wx takes four rows at a time
/// (each register of x serves four rows, and four independent FMA chains hide the FMA latency that bounds a single dot
/// product), streaming W once from memory that starts on a cache line; C = WB takes four rows against four registers of B's columns,
/// reading B in place (see <see cref="Tiles{TV, TS}"/>).
/// </summary>
public sealed partial class DenseWeights : IWeightMatrix
{
    /// <summary>Rows of B per chunk: 128 rows of a 64-float tile are 32 KiB, which stays in L1.</summary>
    private const int ChunkDepth = 128;

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
    public void MultiplyVector(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> bias = default, bool relu = false)
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

        if (relu)
        {
            TensorPrimitives.Max(y, 0f, y);
        }
    }

    /// <inheritdoc/>
    public void Multiply(ReadOnlySpan<float> b, int n, Span<float> c, ReadOnlySpan<float> bias = default, bool relu = false)
    {
        WeightChecks.Product(this, b.Length, n, c.Length, bias.Length);
        unsafe
        {
            fixed (float* pb0 = b, pc0 = c, pbias0 = bias)
            {
                var (pb, pc, pbias) = ((nint)pb0, (nint)pc0, bias.IsEmpty ? 0 : (nint)pbias0);

                // One split over the cores per product, each part run on its rows (or columns) by one core: the GEMM's own
                // parallel mode joins the cores once per 256-deep panel of W, which for layer-sized products costs more than
                // it saves, and packs all of B again in every part.
                SparseParallel.For(Rows, n, (long)Rows * Columns * n, (r0, r1, j0, j1) => MultiplyRange(r0, r1, j0, j1, (float*)pb, n, (float*)pc, (float*)pbias), rowGrain: 4,
                    rectify: relu ? new SparseParallel.Rectifier(pc0, n, Rows, 1) : default);
            }
        }
    }

    /// <inheritdoc/>
    public float[] ToDense() => _values.Span.ToArray();

    /// <summary>
    /// Rows [r0, r1) and columns [j0, j1) of C = WB + b1ᵀ (<paramref name="bias"/> may be null), on the calling thread: the
    /// columns in tiles of four registers (<see cref="Tiles{TV, TS}"/>), the last narrower columns by the dense core's GEMM.
    /// </summary>
    private unsafe void MultiplyRange(int r0, int r1, int j0, int j1, float* b, int n, float* c, float* bias)
    {
        var (rows, width) = (r1 - r0, j1 - j0);
        if (rows <= 0 || width <= 0)
        {
            return;
        }

        var tiled = SimdPaths.Current switch
        {
            SimdPath.Avx512 => Tiles<Vector512<float>, Simd512<float>>(_values.Pointer, Columns, r0, r1, j0, j1, b, n, c, bias),
            SimdPath.Avx2 => Tiles<Vector256<float>, Simd256<float>>(_values.Pointer, Columns, r0, r1, j0, j1, b, n, c, bias),
            _ => Tiles<float, SimdScalar<float>>(_values.Pointer, Columns, r0, r1, j0, j1, b, n, c, bias),
        };
        j0 += tiled;
        width = j1 - j0;
        if (width <= 0)
        {
            return;
        }

        tiled = SimdPaths.Current switch
        {
            SimdPath.Avx512 => NarrowTiles<Vector512<float>, Simd512<float>>(_values.Pointer, Columns, r0, r1, j0, j1, b, n, c, bias),
            SimdPath.Avx2 => NarrowTiles<Vector256<float>, Simd256<float>>(_values.Pointer, Columns, r0, r1, j0, j1, b, n, c, bias),
            _ => 0,
        };
        j0 += tiled;
        width = j1 - j0;
        if (width <= 0)
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

    /// <summary>
    /// C = WB + b1ᵀ on rows [r0, r1) and the whole tiles of four registers in columns [j0, j1); returns the columns done.
    /// A tile is four rows of W against four registers of B's columns: 16 accumulators, and each loaded register of B
    /// serves four rows. B is read in place (a row-major B is already a panel of its columns, so nothing is packed), in
    /// chunks of <see cref="ChunkDepth"/> rows that stay in L1 while every row of W passes over them; the bias starts the
    /// sums, so C is written once per chunk. The last pass of rows repeats its last row and stores only the rows that exist.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static unsafe int Tiles<TV, TS>(float* w, int columns, int r0, int r1, int j0, int j1, float* b, int n, float* c, float* bias)
        where TV : struct
        where TS : struct, ISimd<float, TV>
    {
        var v = TS.Count;
        var tile = 4 * v;
        var j = j0;
        for (; j + tile <= j1; j += tile)
        {
            for (var k0 = 0; k0 < columns; k0 += ChunkDepth)
            {
                var k1 = Math.Min(columns, k0 + ChunkDepth);
                for (var r = r0; r < r1; r += 4)
                {
                    var last = Math.Min(r1, r + 4) - 1;
                    var (i1, i2, i3) = (Math.Min(r + 1, last), Math.Min(r + 2, last), Math.Min(r + 3, last));
                    var w0 = w + ((nint)r * columns);
                    var w1 = w + ((nint)i1 * columns);
                    var w2 = w + ((nint)i2 * columns);
                    var w3 = w + ((nint)i3 * columns);
                    var c0 = c + ((nint)r * n) + j;
                    var c1 = c + ((nint)i1 * n) + j;
                    var c2 = c + ((nint)i2 * n) + j;
                    var c3 = c + ((nint)i3 * n) + j;
                    TV a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33;
                    if (k0 == 0)
                    {
                        a00 = TS.Splat(bias == null ? 0f : bias[r]);
                        a10 = TS.Splat(bias == null ? 0f : bias[i1]);
                        a20 = TS.Splat(bias == null ? 0f : bias[i2]);
                        a30 = TS.Splat(bias == null ? 0f : bias[i3]);
                        (a01, a02, a03, a11, a12, a13) = (a00, a00, a00, a10, a10, a10);
                        (a21, a22, a23, a31, a32, a33) = (a20, a20, a20, a30, a30, a30);
                    }
                    else
                    {
                        (a00, a01, a02, a03) = (TS.Load(c0), TS.Load(c0 + v), TS.Load(c0 + (2 * v)), TS.Load(c0 + (3 * v)));
                        (a10, a11, a12, a13) = (TS.Load(c1), TS.Load(c1 + v), TS.Load(c1 + (2 * v)), TS.Load(c1 + (3 * v)));
                        (a20, a21, a22, a23) = (TS.Load(c2), TS.Load(c2 + v), TS.Load(c2 + (2 * v)), TS.Load(c2 + (3 * v)));
                        (a30, a31, a32, a33) = (TS.Load(c3), TS.Load(c3 + v), TS.Load(c3 + (2 * v)), TS.Load(c3 + (3 * v)));
                    }

                    for (var k = k0; k < k1; k++)
                    {
                        var bk = b + ((nint)k * n) + j;
                        var (x0, x1, x2, x3) = (TS.Load(bk), TS.Load(bk + v), TS.Load(bk + (2 * v)), TS.Load(bk + (3 * v)));
                        var s = TS.Splat(w0[k]);
                        (a00, a01, a02, a03) = (TS.Fma(s, x0, a00), TS.Fma(s, x1, a01), TS.Fma(s, x2, a02), TS.Fma(s, x3, a03));
                        s = TS.Splat(w1[k]);
                        (a10, a11, a12, a13) = (TS.Fma(s, x0, a10), TS.Fma(s, x1, a11), TS.Fma(s, x2, a12), TS.Fma(s, x3, a13));
                        s = TS.Splat(w2[k]);
                        (a20, a21, a22, a23) = (TS.Fma(s, x0, a20), TS.Fma(s, x1, a21), TS.Fma(s, x2, a22), TS.Fma(s, x3, a23));
                        s = TS.Splat(w3[k]);
                        (a30, a31, a32, a33) = (TS.Fma(s, x0, a30), TS.Fma(s, x1, a31), TS.Fma(s, x2, a32), TS.Fma(s, x3, a33));
                    }

                    // Rows past the last repeat it (same weights, same starting sums), so storing them rewrites its own values.
                    Store4<TV, TS>(c0, v, a00, a01, a02, a03);
                    Store4<TV, TS>(c1, v, a10, a11, a12, a13);
                    Store4<TV, TS>(c2, v, a20, a21, a22, a23);
                    Store4<TV, TS>(c3, v, a30, a31, a32, a33);
                }
            }
        }

        return j - j0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store4<TV, TS>(float* c, int v, TV a0, TV a1, TV a2, TV a3)
        where TV : struct
        where TS : struct, ISimd<float, TV>
    {
        TS.Store(a0, c);
        TS.Store(a1, c + v);
        TS.Store(a2, c + (2 * v));
        TS.Store(a3, c + (3 * v));
    }

    /// <summary>y = Wx (+ bias when not null), four rows per pass; the last pass repeats its last row and stores only the rows that exist.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
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
