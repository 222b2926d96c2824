using System.Buffers;
using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels;

/// <summary>
/// Cache-blocked, packed matrix multiply C += α·A·B (Goto/BLIS loop order) with a 6 × 2W register-tile FMA
/// micro-kernel, W = the SIMD width chosen at run time (Vector512 when accelerated, else Vector256).
/// </summary>
internal static class Gemm
{
    internal const int MR = 6;
    private const int KC = 256;
    private const int MC = 96;
    private const int NC = 2048;

    /// <summary>Elements per SIMD register on the path taken at run time (1 on the scalar fallback).</summary>
    internal static int Width<T>()
        where T : unmanaged, IFloatingPointIeee754<T>
        => Vector512.IsHardwareAccelerated ? Vector512<T>.Count : Vector256.IsHardwareAccelerated ? Vector256<T>.Count : 1;

    /// <summary>Register-tile width NR = 2W.</summary>
    internal static int NR<T>()
        where T : unmanaged, IFloatingPointIeee754<T>
        => 2 * Width<T>();

    /// <summary>Name of the SIMD path taken at run time.</summary>
    internal static string PathName => Vector512.IsHardwareAccelerated ? "avx512" : Vector256.IsHardwareAccelerated ? "avx2" : "scalar";

    /// <summary>
    /// C (m × n, row-major with leading dimension <paramref name="ldc"/>, starting at <paramref name="cOffset"/>)
    /// += α·A·B with A m × k and B k × n given as strided views. With <paramref name="lowerOnly"/>, register tiles
    /// lying wholly above the diagonal are skipped (the caller mirrors the lower triangle afterwards).
    /// </summary>
    public static void Multiply<T>(
        int m, int n, int k, T alpha, StridedMatrix<T> a, StridedMatrix<T> b, T[] c, long cOffset, int ldc, bool lowerOnly = false, bool parallel = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (a.Symmetric)
        {
            throw new ArgumentException("Only the right operand B may be a symmetric view (the A packing reads strides).", nameof(a));
        }

        if (m == 0 || n == 0 || k == 0)
        {
            return;
        }

        var nr = NR<T>();
        if (nr < 4)
        {
            MultiplyScalar(m, n, k, alpha, a, b, c, cOffset, ldc);
            return;
        }

        if (parallel && !lowerOnly && n > m && n >= 2 * nr)
        {
            // Wide and short: split the columns of B and C across cores instead of the row blocks.
            var parts = Math.Min(Environment.ProcessorCount, n / nr);
            var chunk = (((n + parts - 1) / parts) + nr - 1) / nr * nr;
            BlockParallel.For((n + chunk - 1) / chunk, part =>
            {
                var j0 = part * chunk;
                var bj = b.Symmetric ? b with { ColShift = b.ColShift + j0 } : b with { Offset = b.Offset + ((long)j0 * b.ColStride) };
                Multiply(m, Math.Min(chunk, n - j0), k, alpha, a, bj, c, cOffset + j0, ldc);
            });
            return;
        }

        var ncMax = Math.Min(NC, n);
        var bPack = ArrayPool<T>.Shared.Rent(KC * (((ncMax + nr - 1) / nr) * nr));
        try
        {
            for (var jc = 0; jc < n; jc += NC)
            {
                var nc = Math.Min(NC, n - jc);
                if (lowerOnly && jc >= m)
                {
                    break;
                }

                for (var pc = 0; pc < k; pc += KC)
                {
                    var kc = Math.Min(KC, k - pc);
                    PackB(b, pc, kc, jc, nc, nr, bPack);
                    var blocks = (m + MC - 1) / MC;
                    if (parallel && blocks > 1)
                    {
                        var bp = bPack;
                        var jcc = jc;
                        var pcc = pc;
                        // Row blocks are handed out one at a time (a lower-only product's blocks grow with their
                        // index, so fixed ranges would leave one core with most of the triangle), largest first.
                        Parallel.ForEach(Partitioner.Create(0, blocks, 1), () => ArrayPool<T>.Shared.Rent(MC * KC), (range, _, aPack) =>
                        {
                            for (var i = range.Item1; i < range.Item2; i++)
                            {
                                var ib = lowerOnly ? blocks - 1 - i : i;
                                MacroTile(ib * MC, Math.Min(MC, m - (ib * MC)), jcc, nc, pcc, kc, alpha, a, bp, aPack, c, cOffset, ldc, lowerOnly, nr);
                            }

                            return aPack;
                        }, aPack => ArrayPool<T>.Shared.Return(aPack));
                    }
                    else
                    {
                        var aPack = ArrayPool<T>.Shared.Rent(MC * KC);
                        for (var ib = 0; ib < blocks; ib++)
                        {
                            MacroTile(ib * MC, Math.Min(MC, m - (ib * MC)), jc, nc, pc, kc, alpha, a, bPack, aPack, c, cOffset, ldc, lowerOnly, nr);
                        }

                        ArrayPool<T>.Shared.Return(aPack);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(bPack);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MacroTile<T>(
        int ic, int mc, int jc, int nc, int pc, int kc, T alpha, StridedMatrix<T> a, T[] bPack, T[] aPack, T[] c, long cOffset, int ldc, bool lowerOnly, int nr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (lowerOnly && jc > ic + mc - 1)
        {
            return;
        }

        PackA(a, ic, mc, pc, kc, aPack);
        for (var jr = 0; jr < nc; jr += nr)
        {
            var nrr = Math.Min(nr, nc - jr);
            var bp = bPack.AsSpan(jr * kc, nr * kc);
            for (var ir = 0; ir < mc; ir += MR)
            {
                var mrr = Math.Min(MR, mc - ir);
                if (lowerOnly && jc + jr > ic + ir + mrr - 1)
                {
                    continue;
                }

                var ap = aPack.AsSpan(ir * kc, MR * kc);
                var cStart = cOffset + ((long)(ic + ir) * ldc) + jc + jr;
                ref var c0 = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(c), (nint)cStart);
                if (Vector512.IsHardwareAccelerated)
                {
                    Kernel512(ap, bp, kc, ref c0, ldc, alpha, mrr, nrr);
                }
                else
                {
                    Kernel256(ap, bp, kc, ref c0, ldc, alpha, mrr, nrr);
                }
            }
        }

    }

    /// <summary>
    /// Packs A[ic:ic+mc, pc:pc+kc] into MR-row panels, p-major (MR values per step p). The loop runs over p with the
    /// MR rows unrolled inside, so every write is sequential and each of the MR read streams (rows of a row-major A,
    /// or contiguous runs of a transposed one) is sequential too.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA<T>(StridedMatrix<T> a, int ic, int mc, int pc, int kc, T[] aPack)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref var data = ref MemoryMarshal.GetArrayDataReference(a.Data);
        ref var pack = ref MemoryMarshal.GetArrayDataReference(aPack);
        var rs = (nint)a.RowStride;
        var cs = (nint)a.ColStride;
        for (var ir = 0; ir < mc; ir += MR)
        {
            var mrr = Math.Min(MR, mc - ir);
            ref var dst = ref Unsafe.Add(ref pack, (nint)ir * kc);
            ref var src = ref Unsafe.Add(ref data, (nint)(a.Offset + ((long)(ic + ir) * a.RowStride) + ((long)pc * a.ColStride)));
            if (mrr == MR)
            {
                for (var p = 0; p < kc; p++)
                {
                    ref var sp = ref Unsafe.Add(ref src, p * cs);
                    ref var dp = ref Unsafe.Add(ref dst, p * MR);
                    dp = sp;
                    Unsafe.Add(ref dp, 1) = Unsafe.Add(ref sp, rs);
                    Unsafe.Add(ref dp, 2) = Unsafe.Add(ref sp, 2 * rs);
                    Unsafe.Add(ref dp, 3) = Unsafe.Add(ref sp, 3 * rs);
                    Unsafe.Add(ref dp, 4) = Unsafe.Add(ref sp, 4 * rs);
                    Unsafe.Add(ref dp, 5) = Unsafe.Add(ref sp, 5 * rs);
                }

                continue;
            }

            for (var p = 0; p < kc; p++)
            {
                ref var sp = ref Unsafe.Add(ref src, p * cs);
                ref var dp = ref Unsafe.Add(ref dst, p * MR);
                for (var i = 0; i < MR; i++)
                {
                    Unsafe.Add(ref dp, i) = i < mrr ? Unsafe.Add(ref sp, i * rs) : T.Zero;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB<T>(StridedMatrix<T> b, int pc, int kc, int jc, int nc, int nr, T[] bPack)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (b.Symmetric)
        {
            PackSymmetricB(b, pc, kc, jc, nc, nr, bPack);
            return;
        }

        var data = b.Data;
        for (var jr = 0; jr < nc; jr += nr)
        {
            var nrr = Math.Min(nr, nc - jr);
            var dst = bPack.AsSpan(jr * kc, nr * kc);
            if (b.ColStride == 1)
            {
                for (var p = 0; p < kc; p++)
                {
                    var src = b.Offset + ((long)(pc + p) * b.RowStride) + jc + jr;
                    var row = dst.Slice(p * nr, nr);
                    data.AsSpan((int)src, nrr).CopyTo(row);
                    row[nrr..].Clear();
                }
            }
            else
            {
                // A transposed B: step p reads one element of each of the nrr source rows; the nrr cache lines in use
                // stay in L1 across consecutive steps, and the writes are sequential.
                ref var s0 = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(data), (nint)(b.Offset + ((long)(jc + jr) * b.ColStride) + ((long)pc * b.RowStride)));
                ref var d0 = ref MemoryMarshal.GetReference(dst);
                var rs = (nint)b.RowStride;
                var cs = (nint)b.ColStride;
                for (var p = 0; p < kc; p++)
                {
                    ref var sp = ref Unsafe.Add(ref s0, p * rs);
                    ref var dp = ref Unsafe.Add(ref d0, p * nr);
                    var j = 0;
                    for (; j < nrr; j++)
                    {
                        Unsafe.Add(ref dp, j) = Unsafe.Add(ref sp, j * cs);
                    }

                    for (; j < nr; j++)
                    {
                        Unsafe.Add(ref dp, j) = T.Zero;
                    }
                }
            }
        }
    }

    /// <summary>
    /// <see cref="PackB{T}"/> for a symmetric view: in each step p the entries on or below the diagonal are one
    /// contiguous run of row p, those above it come from the mirrored lower entries (one element of each later row).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackSymmetricB<T>(StridedMatrix<T> b, int pc, int kc, int jc, int nc, int nr, T[] bPack)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref var data = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(b.Data), (nint)b.Offset);
        var ld = (nint)b.RowStride;
        for (var jr = 0; jr < nc; jr += nr)
        {
            var nrr = Math.Min(nr, nc - jr);
            var j0 = b.ColShift + jc + jr;
            ref var d0 = ref bPack[jr * kc];
            for (var p = 0; p < kc; p++)
            {
                var gp = pc + p;
                ref var dp = ref Unsafe.Add(ref d0, p * nr);
                var lower = Math.Clamp(gp + 1 - j0, 0, nrr);
                MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref data, (gp * ld) + j0), lower).CopyTo(MemoryMarshal.CreateSpan(ref dp, lower));
                MemoryMarshal.CreateSpan(ref Unsafe.Add(ref dp, nrr), nr - nrr).Clear();
            }

            // Above the diagonal, column j of the panel is a contiguous run of row j0 + j (read sequentially; the
            // writes, nr apart, stay within the L1-resident panel).
            for (var j = 0; j < nrr; j++)
            {
                var gj = j0 + j;
                var pEnd = Math.Clamp(gj - pc, 0, kc);
                ref var src = ref Unsafe.Add(ref data, (gj * ld) + pc);
                ref var dj = ref Unsafe.Add(ref d0, j);
                for (var p = 0; p < pEnd; p++)
                {
                    Unsafe.Add(ref dj, p * nr) = Unsafe.Add(ref src, p);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<T> Fma<T>(Vector512<T> a, Vector512<T> b, Vector512<T> c)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            return Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        }

        if (typeof(T) == typeof(double))
        {
            return Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        }

        return (a * b) + c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<T> Fma<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            return Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        }

        if (typeof(T) == typeof(double))
        {
            return Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        }

        return (a * b) + c;
    }

    /// <summary>6 × 2W register tile: C[0:mr, 0:nr] += α·Σ_p a_p b_pᵀ over kc packed steps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel512<T>(ReadOnlySpan<T> ap, ReadOnlySpan<T> bp, int kc, ref T c, int ldc, T alpha, int mr, int nr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var w = Vector512<T>.Count;
        ref var a = ref MemoryMarshal.GetReference(ap);
        ref var b = ref MemoryMarshal.GetReference(bp);
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (var p = 0; p < kc; p++)
        {
            var b0 = Vector512.LoadUnsafe(ref b);
            var b1 = Vector512.LoadUnsafe(ref b, (nuint)w);
            var a0 = Vector512.Create(a);
            c00 = Fma(a0, b0, c00);
            c01 = Fma(a0, b1, c01);
            var a1 = Vector512.Create(Unsafe.Add(ref a, 1));
            c10 = Fma(a1, b0, c10);
            c11 = Fma(a1, b1, c11);
            var a2 = Vector512.Create(Unsafe.Add(ref a, 2));
            c20 = Fma(a2, b0, c20);
            c21 = Fma(a2, b1, c21);
            var a3 = Vector512.Create(Unsafe.Add(ref a, 3));
            c30 = Fma(a3, b0, c30);
            c31 = Fma(a3, b1, c31);
            var a4 = Vector512.Create(Unsafe.Add(ref a, 4));
            c40 = Fma(a4, b0, c40);
            c41 = Fma(a4, b1, c41);
            var a5 = Vector512.Create(Unsafe.Add(ref a, 5));
            c50 = Fma(a5, b0, c50);
            c51 = Fma(a5, b1, c51);
            a = ref Unsafe.Add(ref a, MR);
            b = ref Unsafe.Add(ref b, 2 * w);
        }

        var al = Vector512.Create(alpha);
        if (mr == MR && nr == 2 * w)
        {
            Store512(ref c, 0, al, c00, c01, w);
            Store512(ref c, ldc, al, c10, c11, w);
            Store512(ref c, 2 * ldc, al, c20, c21, w);
            Store512(ref c, 3 * ldc, al, c30, c31, w);
            Store512(ref c, 4 * ldc, al, c40, c41, w);
            Store512(ref c, 5 * ldc, al, c50, c51, w);
            return;
        }

        Span<T> tile = stackalloc T[MR * 2 * w];
        ref var t = ref MemoryMarshal.GetReference(tile);
        var s = (nuint)w;
        c00.StoreUnsafe(ref t, 0 * s); c01.StoreUnsafe(ref t, 1 * s);
        c10.StoreUnsafe(ref t, 2 * s); c11.StoreUnsafe(ref t, 3 * s);
        c20.StoreUnsafe(ref t, 4 * s); c21.StoreUnsafe(ref t, 5 * s);
        c30.StoreUnsafe(ref t, 6 * s); c31.StoreUnsafe(ref t, 7 * s);
        c40.StoreUnsafe(ref t, 8 * s); c41.StoreUnsafe(ref t, 9 * s);
        c50.StoreUnsafe(ref t, 10 * s); c51.StoreUnsafe(ref t, 11 * s);
        AddTile(tile, 2 * w, ref c, ldc, alpha, mr, nr);
    }

    /// <summary>The Vector256 form of <see cref="Kernel512{T}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel256<T>(ReadOnlySpan<T> ap, ReadOnlySpan<T> bp, int kc, ref T c, int ldc, T alpha, int mr, int nr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var w = Vector256<T>.Count;
        ref var a = ref MemoryMarshal.GetReference(ap);
        ref var b = ref MemoryMarshal.GetReference(bp);
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (var p = 0; p < kc; p++)
        {
            var b0 = Vector256.LoadUnsafe(ref b);
            var b1 = Vector256.LoadUnsafe(ref b, (nuint)w);
            var a0 = Vector256.Create(a);
            c00 = Fma(a0, b0, c00);
            c01 = Fma(a0, b1, c01);
            var a1 = Vector256.Create(Unsafe.Add(ref a, 1));
            c10 = Fma(a1, b0, c10);
            c11 = Fma(a1, b1, c11);
            var a2 = Vector256.Create(Unsafe.Add(ref a, 2));
            c20 = Fma(a2, b0, c20);
            c21 = Fma(a2, b1, c21);
            var a3 = Vector256.Create(Unsafe.Add(ref a, 3));
            c30 = Fma(a3, b0, c30);
            c31 = Fma(a3, b1, c31);
            var a4 = Vector256.Create(Unsafe.Add(ref a, 4));
            c40 = Fma(a4, b0, c40);
            c41 = Fma(a4, b1, c41);
            var a5 = Vector256.Create(Unsafe.Add(ref a, 5));
            c50 = Fma(a5, b0, c50);
            c51 = Fma(a5, b1, c51);
            a = ref Unsafe.Add(ref a, MR);
            b = ref Unsafe.Add(ref b, 2 * w);
        }

        var al = Vector256.Create(alpha);
        if (mr == MR && nr == 2 * w)
        {
            Store256(ref c, 0, al, c00, c01, w);
            Store256(ref c, ldc, al, c10, c11, w);
            Store256(ref c, 2 * ldc, al, c20, c21, w);
            Store256(ref c, 3 * ldc, al, c30, c31, w);
            Store256(ref c, 4 * ldc, al, c40, c41, w);
            Store256(ref c, 5 * ldc, al, c50, c51, w);
            return;
        }

        Span<T> tile = stackalloc T[MR * 2 * w];
        ref var t = ref MemoryMarshal.GetReference(tile);
        var s = (nuint)w;
        c00.StoreUnsafe(ref t, 0 * s); c01.StoreUnsafe(ref t, 1 * s);
        c10.StoreUnsafe(ref t, 2 * s); c11.StoreUnsafe(ref t, 3 * s);
        c20.StoreUnsafe(ref t, 4 * s); c21.StoreUnsafe(ref t, 5 * s);
        c30.StoreUnsafe(ref t, 6 * s); c31.StoreUnsafe(ref t, 7 * s);
        c40.StoreUnsafe(ref t, 8 * s); c41.StoreUnsafe(ref t, 9 * s);
        c50.StoreUnsafe(ref t, 10 * s); c51.StoreUnsafe(ref t, 11 * s);
        AddTile(tile, 2 * w, ref c, ldc, alpha, mr, nr);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512<T>(ref T c, int rowOffset, Vector512<T> alpha, Vector512<T> v0, Vector512<T> v1, int w)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref var row = ref Unsafe.Add(ref c, rowOffset);
        Fma(alpha, v0, Vector512.LoadUnsafe(ref row)).StoreUnsafe(ref row);
        Fma(alpha, v1, Vector512.LoadUnsafe(ref row, (nuint)w)).StoreUnsafe(ref row, (nuint)w);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256<T>(ref T c, int rowOffset, Vector256<T> alpha, Vector256<T> v0, Vector256<T> v1, int w)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref var row = ref Unsafe.Add(ref c, rowOffset);
        Fma(alpha, v0, Vector256.LoadUnsafe(ref row)).StoreUnsafe(ref row);
        Fma(alpha, v1, Vector256.LoadUnsafe(ref row, (nuint)w)).StoreUnsafe(ref row, (nuint)w);
    }

    private static void AddTile<T>(ReadOnlySpan<T> tile, int nrFull, ref T c, int ldc, T alpha, int mr, int nr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (var i = 0; i < mr; i++)
        {
            ref var row = ref Unsafe.Add(ref c, i * ldc);
            for (var j = 0; j < nr; j++)
            {
                Unsafe.Add(ref row, j) = T.FusedMultiplyAdd(alpha, tile[(i * nrFull) + j], Unsafe.Add(ref row, j));
            }
        }
    }

    private static void MultiplyScalar<T>(int m, int n, int k, T alpha, StridedMatrix<T> a, StridedMatrix<T> b, T[] c, long cOffset, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var s = T.Zero;
                for (var p = 0; p < k; p++)
                {
                    s += a[i, p] * b[p, j];
                }

                c[cOffset + ((long)i * ldc) + j] += alpha * s;
            }
        }
    }

    /// <summary>Copies the strict lower triangle of the n × n row-major matrix onto the upper.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MirrorLower<T>(Span<T> a, int n)
    {
        if (typeof(T) == typeof(float) && Avx.IsSupported)
        {
            MirrorLowerAvx(MemoryMarshal.CreateSpan(ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(a)), a.Length), n);
            return;
        }

        const int tile = 32;
        for (var ib = 0; ib < n; ib += tile)
        {
            var ie = Math.Min(n, ib + tile);
            for (var jb = 0; jb <= ib; jb += tile)
            {
                var je = Math.Min(n, jb + tile);
                for (var i = ib; i < ie; i++)
                {
                    var jEnd = Math.Min(je, i);
                    for (var j = jb; j < jEnd; j++)
                    {
                        a[(j * n) + i] = a[(i * n) + j];
                    }
                }
            }
        }
    }

    /// <summary>
    /// <see cref="MirrorLower{T}"/> for float32 by 8 × 8 blocks transposed in registers: both the reads below the diagonal
    /// and the writes above it are row segments, where an element-wise mirror strides through memory by whole rows (and,
    /// for power-of-two n, through a single cache set).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MirrorLowerAvx(Span<float> a, int n)
    {
        var n8 = n / 8 * 8;
        ref var a0 = ref MemoryMarshal.GetReference(a);
        for (var jb = 0; jb < n8; jb += 8)
        {
            for (var ib = jb + 8; ib < n8; ib += 8)
            {
                ref var src = ref Unsafe.Add(ref a0, (ib * n) + jb);
                var r0 = Vector256.LoadUnsafe(ref src);
                var r1 = Vector256.LoadUnsafe(ref src, (nuint)n);
                var r2 = Vector256.LoadUnsafe(ref src, (nuint)(2 * n));
                var r3 = Vector256.LoadUnsafe(ref src, (nuint)(3 * n));
                var r4 = Vector256.LoadUnsafe(ref src, (nuint)(4 * n));
                var r5 = Vector256.LoadUnsafe(ref src, (nuint)(5 * n));
                var r6 = Vector256.LoadUnsafe(ref src, (nuint)(6 * n));
                var r7 = Vector256.LoadUnsafe(ref src, (nuint)(7 * n));
                var t0 = Avx.UnpackLow(r0, r1);
                var t1 = Avx.UnpackHigh(r0, r1);
                var t2 = Avx.UnpackLow(r2, r3);
                var t3 = Avx.UnpackHigh(r2, r3);
                var t4 = Avx.UnpackLow(r4, r5);
                var t5 = Avx.UnpackHigh(r4, r5);
                var t6 = Avx.UnpackLow(r6, r7);
                var t7 = Avx.UnpackHigh(r6, r7);
                var u0 = Avx.Shuffle(t0, t2, 0x44);
                var u1 = Avx.Shuffle(t0, t2, 0xEE);
                var u2 = Avx.Shuffle(t1, t3, 0x44);
                var u3 = Avx.Shuffle(t1, t3, 0xEE);
                var u4 = Avx.Shuffle(t4, t6, 0x44);
                var u5 = Avx.Shuffle(t4, t6, 0xEE);
                var u6 = Avx.Shuffle(t5, t7, 0x44);
                var u7 = Avx.Shuffle(t5, t7, 0xEE);
                ref var dst = ref Unsafe.Add(ref a0, (jb * n) + ib);
                Avx.Permute2x128(u0, u4, 0x20).StoreUnsafe(ref dst);
                Avx.Permute2x128(u1, u5, 0x20).StoreUnsafe(ref dst, (nuint)n);
                Avx.Permute2x128(u2, u6, 0x20).StoreUnsafe(ref dst, (nuint)(2 * n));
                Avx.Permute2x128(u3, u7, 0x20).StoreUnsafe(ref dst, (nuint)(3 * n));
                Avx.Permute2x128(u0, u4, 0x31).StoreUnsafe(ref dst, (nuint)(4 * n));
                Avx.Permute2x128(u1, u5, 0x31).StoreUnsafe(ref dst, (nuint)(5 * n));
                Avx.Permute2x128(u2, u6, 0x31).StoreUnsafe(ref dst, (nuint)(6 * n));
                Avx.Permute2x128(u3, u7, 0x31).StoreUnsafe(ref dst, (nuint)(7 * n));
            }

            for (var i = jb + 1; i < jb + 8; i++)
            {
                for (var j = jb; j < i; j++)
                {
                    a[(j * n) + i] = a[(i * n) + j];
                }
            }
        }

        for (var i = n8; i < n; i++)
        {
            for (var j = 0; j < i; j++)
            {
                a[(j * n) + i] = a[(i * n) + j];
            }
        }
    }
}
