using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// The row loops every sparse format shares, written once over <see cref="ILanes{TV}"/>: a gathered dot product
/// Σ_e v_e·x[col_e] (a row of y = Wx), and a row of C = WB built as Σ_e v_e·B[col_e, :] in register tiles of the output
/// row (each tile's accumulators stay in registers over all the row's entries, so C is written once).
/// </summary>
internal static unsafe class SparseKernels
{
    /// <summary>Σ_e v[e]·x[cols[e]] for e &lt; count.</summary>
    public static float Dot(float* v, int* cols, int count, float* x) => LanePaths.Current switch
    {
        16 => Dot<Vector512<float>, Lanes512>(v, cols, count, x),
        8 => Dot<Vector256<float>, Lanes256>(v, cols, count, x),
        _ => Dot<float, Lanes1>(v, cols, count, x),
    };

    /// <summary>c[j] = bias + Σ_e v[e]·b[cols[e]·ldb + j] for j0 ≤ j &lt; j1 (one row of C = WB).</summary>
    public static void AxpyRow(float* c, float* b, nint ldb, int j0, int j1, float bias, float* v, int* cols, int count)
    {
        switch (LanePaths.Current)
        {
            case 16:
                AxpyRow<Vector512<float>, Lanes512>(c, b, ldb, j0, j1, bias, v, cols, count);
                break;
            case 8:
                AxpyRow<Vector256<float>, Lanes256>(c, b, ldb, j0, j1, bias, v, cols, count);
                break;
            default:
                AxpyRow<float, Lanes1>(c, b, ldb, j0, j1, bias, v, cols, count);
                break;
        }
    }

    /// <summary>
    /// Four rows of C at once from a block row of R × C tiles (R a multiple of 4), rows i0..i0+3 of each tile: every
    /// B row loaded serves four output rows. <paramref name="c"/> points at output row i0 of the block row (row stride
    /// <paramref name="ldc"/>); tile t holds <paramref name="tileRows"/> × <paramref name="tileColumns"/> values at
    /// <c>values + t·R·C</c>, its first input column at <c>blockColumns[t]·C</c>; inputs at or past
    /// <paramref name="columns"/> (the edge tiles' padding) are skipped.
    /// </summary>
    public static void AxpyTileRows4(float* c, nint ldc, float* b, nint ldb, int j0, int j1, float* bias,
        float* values, int* blockColumns, int tiles, int tileRows, int tileColumns, int i0, int columns)
    {
        switch (LanePaths.Current)
        {
            case 16:
                AxpyTileRows4<Vector512<float>, Lanes512>(c, ldc, b, ldb, j0, j1, bias, values, blockColumns, tiles, tileRows, tileColumns, i0, columns);
                break;
            case 8:
                AxpyTileRows4<Vector256<float>, Lanes256>(c, ldc, b, ldb, j0, j1, bias, values, blockColumns, tiles, tileRows, tileColumns, i0, columns);
                break;
            default:
                AxpyTileRows4<float, Lanes1>(c, ldc, b, ldb, j0, j1, bias, values, blockColumns, tiles, tileRows, tileColumns, i0, columns);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot<TV, TS>(float* v, int* cols, int count, float* x)
        where TV : struct
        where TS : struct, ILanes<TV>
    {
        var w = TS.Count;
        var e = 0;
        var s = 0f;
        if (w > 1)
        {
            TV a0 = TS.Zero, a1 = TS.Zero;
            for (; e + (2 * w) <= count; e += 2 * w)
            {
                a0 = TS.Fma(TS.Load(v + e), TS.Gather(x, cols + e), a0);
                a1 = TS.Fma(TS.Load(v + e + w), TS.Gather(x, cols + e + w), a1);
            }

            for (; e + w <= count; e += w)
            {
                a0 = TS.Fma(TS.Load(v + e), TS.Gather(x, cols + e), a0);
            }

            s = TS.Sum(a0) + TS.Sum(a1);
        }

        for (; e < count; e++)
        {
            s = MathF.FusedMultiplyAdd(v[e], x[cols[e]], s);
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AxpyRow<TV, TS>(float* c, float* b, nint ldb, int j0, int j1, float bias, float* v, int* cols, int count)
        where TV : struct
        where TS : struct, ILanes<TV>
    {
        var w = TS.Count;
        var j = j0;
        var init = TS.Splat(bias);
        for (; j + (4 * w) <= j1; j += 4 * w)
        {
            TV c0 = init, c1 = init, c2 = init, c3 = init;
            var bj = b + j;
            for (var e = 0; e < count; e++)
            {
                var a = TS.Splat(v[e]);
                var row = bj + (cols[e] * ldb);
                c0 = TS.Fma(a, TS.Load(row), c0);
                c1 = TS.Fma(a, TS.Load(row + w), c1);
                c2 = TS.Fma(a, TS.Load(row + (2 * w)), c2);
                c3 = TS.Fma(a, TS.Load(row + (3 * w)), c3);
            }

            TS.Store(c0, c + j);
            TS.Store(c1, c + j + w);
            TS.Store(c2, c + j + (2 * w));
            TS.Store(c3, c + j + (3 * w));
        }

        for (; j + w <= j1; j += w)
        {
            var c0 = init;
            var bj = b + j;
            for (var e = 0; e < count; e++)
            {
                c0 = TS.Fma(TS.Splat(v[e]), TS.Load(bj + (cols[e] * ldb)), c0);
            }

            TS.Store(c0, c + j);
        }

        for (; j < j1; j++)
        {
            var s = bias;
            for (var e = 0; e < count; e++)
            {
                s = MathF.FusedMultiplyAdd(v[e], b[(cols[e] * ldb) + j], s);
            }

            c[j] = s;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AxpyTileRows4<TV, TS>(float* c, nint ldc, float* b, nint ldb, int j0, int j1, float* bias,
        float* values, int* blockColumns, int tiles, int tileRows, int tileColumns, int i0, int columns)
        where TV : struct
        where TS : struct, ILanes<TV>
    {
        var w = TS.Count;
        nint tileSize = tileRows * tileColumns;
        nint tc = tileColumns;
        var j = j0;
        for (; j + (2 * w) <= j1; j += 2 * w)
        {
            TV r00 = TS.Splat(bias[0]), r10 = TS.Splat(bias[1]), r20 = TS.Splat(bias[2]), r30 = TS.Splat(bias[3]);
            TV r01 = r00, r11 = r10, r21 = r20, r31 = r30;
            for (var t = 0; t < tiles; t++)
            {
                var first = blockColumns[t] * tileColumns;
                var width = Math.Min(tileColumns, columns - first);
                var tv = values + (t * tileSize) + (i0 * tc);
                for (var k = 0; k < width; k++)
                {
                    var row = b + ((first + k) * ldb) + j;
                    var x0 = TS.Load(row);
                    var x1 = TS.Load(row + w);
                    var a = TS.Splat(tv[k]);
                    r00 = TS.Fma(a, x0, r00);
                    r01 = TS.Fma(a, x1, r01);
                    a = TS.Splat(tv[tc + k]);
                    r10 = TS.Fma(a, x0, r10);
                    r11 = TS.Fma(a, x1, r11);
                    a = TS.Splat(tv[(2 * tc) + k]);
                    r20 = TS.Fma(a, x0, r20);
                    r21 = TS.Fma(a, x1, r21);
                    a = TS.Splat(tv[(3 * tc) + k]);
                    r30 = TS.Fma(a, x0, r30);
                    r31 = TS.Fma(a, x1, r31);
                }
            }

            TS.Store(r00, c + j);
            TS.Store(r01, c + j + w);
            TS.Store(r10, c + ldc + j);
            TS.Store(r11, c + ldc + j + w);
            TS.Store(r20, c + (2 * ldc) + j);
            TS.Store(r21, c + (2 * ldc) + j + w);
            TS.Store(r30, c + (3 * ldc) + j);
            TS.Store(r31, c + (3 * ldc) + j + w);
        }

        for (; j < j1; j++)
        {
            for (var i = 0; i < 4; i++)
            {
                var s = bias[i];
                for (var t = 0; t < tiles; t++)
                {
                    var first = blockColumns[t] * tileColumns;
                    var width = Math.Min(tileColumns, columns - first);
                    var tv = values + (t * tileSize) + ((i0 + i) * tc);
                    for (var k = 0; k < width; k++)
                    {
                        s = MathF.FusedMultiplyAdd(tv[k], b[((first + k) * ldb) + j], s);
                    }
                }

                c[(i * ldc) + j] = s;
            }
        }
    }
}
