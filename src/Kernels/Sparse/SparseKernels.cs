using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// The row loops every sparse format shares, written once over the dense core's <see cref="ISimd{T, TV}"/>: a gathered dot product
/// Σ_e v_e·x[col_e] (a row of y = Wx), and a row of C = WB built as Σ_e v_e·B[col_e, :] in register tiles of the output
/// row (each tile's accumulators stay in registers over all the row's entries, so C is written once). Every kernel here,
/// in <see cref="DenseWeights"/> and in <see cref="SlidingRows"/> is compiled once with full optimisation and never
/// inlined: tier-1 code with dynamic PGO that inlined the 2:4 product's kernel into its dispatcher ran it 4–8× slower.
/// </summary>
internal static unsafe class SparseKernels
{
    /// <summary>
    /// Σ_e v[e]·x[cols[e]] for e &lt; count. On x86 with AVX2, four 8-lane gathers in flight and a masked gather for the
    /// last &lt; 8 entries (the gathers bound this loop; 512-bit registers would only pair them up); else scalar.
    /// </summary>
    public static float Dot(float* v, int* cols, int count, float* x) =>
        SimdPaths.Current != SimdPath.Scalar && Avx2.IsSupported ? DotGather(v, cols, count, x) : DotScalar(v, cols, count, x);

    /// <summary>
    /// Rows [r0, r1) of C = WB (columns [j0, j1)) given their entries in chunk <paramref name="k"/> of B's rows: row r's entries
    /// are [p[r·stride + k], p[r·stride + k + 1]) of <paramref name="v"/> and <paramref name="cols"/>, each input held as its
    /// row inside the chunk (a byte), <paramref name="b"/> the chunk's first row. The first chunk starts each row from its
    /// bias (zero when <paramref name="bias"/> is null), the others add to C. One call per chunk, not per row: the rows'
    /// loop stays inside the compiled kernel.
    /// </summary>
    public static void AxpyChunk(float* c, float* b, int n, int j0, int j1, int k, float* bias, float* v, byte* cols, int* chunkPointers, int stride, int r0, int r1)
    {
        switch (SimdPaths.Current)
        {
            case SimdPath.Avx512:
                AxpyChunk<Vector512<float>, Simd512<float>>(c, b, n, j0, j1, k, bias, v, cols, chunkPointers, stride, r0, r1);
                break;
            case SimdPath.Avx2:
                AxpyChunk<Vector256<float>, Simd256<float>>(c, b, n, j0, j1, k, bias, v, cols, chunkPointers, stride, r0, r1);
                break;
            default:
                AxpyChunk<float, SimdScalar<float>>(c, b, n, j0, j1, k, bias, v, cols, chunkPointers, stride, r0, r1);
                break;
        }
    }

    /// <summary>
    /// Four rows of C at once from a block row of R × C tiles (R a multiple of 4), rows i0..i0+3 of each tile: every
    /// B row loaded serves four output rows. <paramref name="c"/> points at output row i0 of the block row (row stride
    /// <paramref name="ldc"/>); tile t holds <paramref name="tileRows"/> × <paramref name="tileColumns"/> values at
    /// <c>values + t·R·C</c>, its first input column at <c>blockColumns[t]·C</c>; inputs at or past
    /// <paramref name="columns"/> (the edge tiles' padding) are skipped. Starts from C when <paramref name="accumulate"/>,
    /// else from the four biases.
    /// </summary>
    public static void AxpyTileRows4(float* c, nint ldc, float* b, nint ldb, int j0, int j1, bool accumulate, float* bias,
        float* values, int* blockColumns, int tiles, int tileRows, int tileColumns, int i0, int columns)
    {
        switch (SimdPaths.Current)
        {
            case SimdPath.Avx512:
                AxpyTileRows4<Vector512<float>, Simd512<float>>(c, ldc, b, ldb, j0, j1, accumulate, bias, values, blockColumns, tiles, tileRows, tileColumns, i0, columns);
                break;
            case SimdPath.Avx2:
                AxpyTileRows4<Vector256<float>, Simd256<float>>(c, ldc, b, ldb, j0, j1, accumulate, bias, values, blockColumns, tiles, tileRows, tileColumns, i0, columns);
                break;
            default:
                AxpyTileRows4<float, SimdScalar<float>>(c, ldc, b, ldb, j0, j1, accumulate, bias, values, blockColumns, tiles, tileRows, tileColumns, i0, columns);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static float DotGather(float* v, int* cols, int count, float* x)
    {
        Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
        var e = 0;
        for (; e + 32 <= count; e += 32)
        {
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(v + e), Avx2.GatherVector256(x, Vector256.Load(cols + e), 4), a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(v + e + 8), Avx2.GatherVector256(x, Vector256.Load(cols + e + 8), 4), a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(v + e + 16), Avx2.GatherVector256(x, Vector256.Load(cols + e + 16), 4), a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(v + e + 24), Avx2.GatherVector256(x, Vector256.Load(cols + e + 24), 4), a3);
        }

        for (; e + 8 <= count; e += 8)
        {
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(v + e), Avx2.GatherVector256(x, Vector256.Load(cols + e), 4), a0);
        }

        if (e < count)
        {
            var mask = Vector256.LessThan(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(count - e));
            var idx = Avx2.MaskLoad(cols + e, mask);
            var fm = mask.AsSingle();
            a1 = Vector256.FusedMultiplyAdd(Avx.MaskLoad(v + e, fm), Avx2.GatherMaskVector256(Vector256<float>.Zero, x, idx, fm, 4), a1);
        }

        return Vector256.Sum((a0 + a1) + (a2 + a3));
    }

    private static float DotScalar(float* v, int* cols, int count, float* x)
    {
        var s = 0f;
        for (var e = 0; e < count; e++)
        {
            s = MathF.FusedMultiplyAdd(v[e], x[cols[e]], s);
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void AxpyChunk<TV, TS>(float* c, float* b, int n, int j0, int j1, int k, float* bias, float* v, byte* cols, int* chunkPointers, int stride, int r0, int r1)
        where TV : struct
        where TS : struct, ISimd<float, TV>
    {
        for (var r = r0; r < r1; r++)
        {
            var at = (r * stride) + k;
            var (e0, e1) = (chunkPointers[at], chunkPointers[at + 1]);
            if (k > 0 && e0 == e1)
            {
                continue;
            }

            AxpyRow<TV, TS>(c + ((nint)r * n), b, n, j0, j1, k > 0, bias == null ? 0f : bias[r], v + e0, cols + e0, e1 - e0);
        }
    }

    /// <summary>
    /// c[j] = s + Σ_e v[e]·b[cols[e]·ldb + j] for j0 ≤ j &lt; j1 (one row's share of C = WB from a chunk of entries), s = c[j]
    /// when <paramref name="accumulate"/>, else <paramref name="bias"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AxpyRow<TV, TS>(float* c, float* b, nint ldb, int j0, int j1, bool accumulate, float bias, float* v, byte* cols, int count)
        where TV : struct
        where TS : struct, ISimd<float, TV>
    {
        var w = TS.Count;
        var j = j0;
        var init = TS.Splat(bias);
        for (; j + (4 * w) <= j1; j += 4 * w)
        {
            TV c0 = init, c1 = init, c2 = init, c3 = init;
            if (accumulate)
            {
                (c0, c1, c2, c3) = (TS.Load(c + j), TS.Load(c + j + w), TS.Load(c + j + (2 * w)), TS.Load(c + j + (3 * w)));
            }

            var bj = b + j;

            // Even and odd entries feed separate accumulators: eight independent FMA chains hide the FMA latency. The rows of
            // four entries come in one 32-bit load (a load per entry would queue with the four loads of B's row on the load
            // ports, which bound this loop).
            TV d0 = TS.Zero, d1 = TS.Zero, d2 = TS.Zero, d3 = TS.Zero;
            var ve = v;
            var ce = cols;
            var end = v + (count & ~3);
            for (; ve < end; ve += 4, ce += 4)
            {
                var rows4 = Unsafe.ReadUnaligned<uint>(ce);
                var row = bj + ((nint)(rows4 & 0xFF) * ldb);
                var row2 = bj + ((nint)((rows4 >> 8) & 0xFF) * ldb);
                var row3 = bj + ((nint)((rows4 >> 16) & 0xFF) * ldb);
                var row4 = bj + ((nint)(rows4 >> 24) * ldb);
                Axpy4<TV, TS>(TS.Splat(ve[0]), row, w, ref c0, ref c1, ref c2, ref c3);
                Axpy4<TV, TS>(TS.Splat(ve[1]), row2, w, ref d0, ref d1, ref d2, ref d3);
                Axpy4<TV, TS>(TS.Splat(ve[2]), row3, w, ref c0, ref c1, ref c2, ref c3);
                Axpy4<TV, TS>(TS.Splat(ve[3]), row4, w, ref d0, ref d1, ref d2, ref d3);
            }

            for (; ve < v + count; ve++, ce++)
            {
                Axpy4<TV, TS>(TS.Splat(*ve), bj + ((nint)(*ce) * ldb), w, ref c0, ref c1, ref c2, ref c3);
            }

            // 1·d + c, fused, is exactly the rounded sum c + d.
            var one = TS.Splat(1f);
            (c0, c1, c2, c3) = (TS.Fma(one, d0, c0), TS.Fma(one, d1, c1), TS.Fma(one, d2, c2), TS.Fma(one, d3, c3));
            TS.Store(c0, c + j);
            TS.Store(c1, c + j + w);
            TS.Store(c2, c + j + (2 * w));
            TS.Store(c3, c + j + (3 * w));
        }

        for (; j + w <= j1; j += w)
        {
            var c0 = accumulate ? TS.Load(c + j) : init;
            var bj = b + j;
            for (var e = 0; e < count; e++)
            {
                c0 = TS.Fma(TS.Splat(v[e]), TS.Load(bj + ((nint)cols[e] * ldb)), c0);
            }

            TS.Store(c0, c + j);
        }

        for (; j < j1; j++)
        {
            var s = accumulate ? c[j] : bias;
            for (var e = 0; e < count; e++)
            {
                s = MathF.FusedMultiplyAdd(v[e], b[((nint)cols[e] * ldb) + j], s);
            }

            c[j] = s;
        }
    }

    /// <summary>Four registers of a row of C += a times the four registers of B's row at <paramref name="row"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Axpy4<TV, TS>(TV a, float* row, int w, ref TV c0, ref TV c1, ref TV c2, ref TV c3)
        where TV : struct
        where TS : struct, ISimd<float, TV>
    {
        c0 = TS.Fma(a, TS.Load(row), c0);
        c1 = TS.Fma(a, TS.Load(row + w), c1);
        c2 = TS.Fma(a, TS.Load(row + (2 * w)), c2);
        c3 = TS.Fma(a, TS.Load(row + (3 * w)), c3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void AxpyTileRows4<TV, TS>(float* c, nint ldc, float* b, nint ldb, int j0, int j1, bool accumulate, float* bias,
        float* values, int* blockColumns, int tiles, int tileRows, int tileColumns, int i0, int columns)
        where TV : struct
        where TS : struct, ISimd<float, TV>
    {
        var w = TS.Count;
        nint tileSize = tileRows * tileColumns;
        nint tc = tileColumns;
        var j = j0;
        for (; j + (2 * w) <= j1; j += 2 * w)
        {
            TV r00, r01, r10, r11, r20, r21, r30, r31;
            if (accumulate)
            {
                (r00, r01, r10, r11) = (TS.Load(c + j), TS.Load(c + j + w), TS.Load(c + ldc + j), TS.Load(c + ldc + j + w));
                (r20, r21, r30, r31) = (TS.Load(c + (2 * ldc) + j), TS.Load(c + (2 * ldc) + j + w), TS.Load(c + (3 * ldc) + j), TS.Load(c + (3 * ldc) + j + w));
            }
            else
            {
                (r00, r10, r20, r30) = (TS.Splat(bias[0]), TS.Splat(bias[1]), TS.Splat(bias[2]), TS.Splat(bias[3]));
                (r01, r11, r21, r31) = (r00, r10, r20, r30);
            }

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
                var s = accumulate ? c[(i * ldc) + j] : bias[i];
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
