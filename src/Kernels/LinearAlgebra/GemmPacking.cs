using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace WoodFisher.Kernels;

/// <summary>
/// An operand of the blocked GEMM in pinned memory: element (i, j) is at <c>Data[i·RowStride + j·ColStride]</c>; a
/// symmetric operand reads only the lower triangle of a row-major matrix (element (i, j + ColShift) for i ≥ j + ColShift,
/// else its mirror); a windowed operand reads row i at <c>Data[RowOffsets[i] + j]</c> (rows that may overlap, as a
/// convolution's patches do). The pinned form of <see cref="StridedMatrix{T}"/> and of the span API's operands.
/// </summary>
internal readonly unsafe struct PinnedMatrix<T>(T* data, nint rowStride, nint colStride, bool symmetric = false, int colShift = 0, int* rowOffsets = null)
    where T : unmanaged
{
    public T* Data { get; } = data;

    public nint RowStride { get; } = rowStride;

    public nint ColStride { get; } = colStride;

    public bool Symmetric { get; } = symmetric;

    public int ColShift { get; } = colShift;

    /// <summary>For a windowed operand, the offset of each row in <see cref="Data"/>; null otherwise.</summary>
    public int* RowOffsets { get; } = rowOffsets;

    public bool Windowed => RowOffsets != null;

    public static PinnedMatrix<T> From(T* pinnedArray, StridedMatrix<T> view)
        => new(pinnedArray + view.Offset, view.RowStride, view.ColStride, view.Symmetric, view.ColShift);

    /// <summary>op(M) of a row-major matrix with leading dimension <paramref name="ld"/>.</summary>
    public static PinnedMatrix<T> RowMajor(T* data, int ld, bool transpose) => transpose ? new(data, 1, ld) : new(data, ld, 1);

    /// <summary>The matrix whose row i is <c>data[offsets[i]..]</c>.</summary>
    public static PinnedMatrix<T> Windows(T* data, int* offsets) => new(data, 0, 1, rowOffsets: offsets);

    /// <summary>The sub-matrix starting at row <paramref name="i"/>, column <paramref name="j"/> (not for symmetric views).</summary>
    public PinnedMatrix<T> At(long i, long j) => Windowed
        ? new(Data + j, 0, 1, rowOffsets: RowOffsets + i)
        : new(Data + (i * RowStride) + (j * ColStride), RowStride, ColStride);

    /// <summary>The symmetric view whose column 0 is column <paramref name="j"/> of this one.</summary>
    public PinnedMatrix<T> ShiftColumns(int j) => new(Data, RowStride, ColStride, true, ColShift + j);

    /// <summary>Pointer to row i.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T* Row(long i) => Windowed ? Data + RowOffsets[i] : Data + (i * RowStride);
}

internal static unsafe partial class Gemm
{
    /// <summary>
    /// Packs A[ic:ic+mc, pc:pc+kc] into MR-row panels, p-major (MR values per step p). The loop runs over p with the
    /// MR rows unrolled inside, so every write is sequential and each of the MR read streams (rows of a row-major A,
    /// or contiguous runs of a transposed one) is sequential too.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA<T>(PinnedMatrix<T> a, int ic, int mc, int pc, int kc, T* pack)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rs = a.RowStride;
        var cs = a.ColStride;
        for (var ir = 0; ir < mc; ir += MR)
        {
            var mrr = Math.Min(MR, mc - ir);
            var dst = pack + ((nint)ir * kc);
            var src = a.Data + ((ic + ir) * rs) + (pc * cs);
            if (mrr == MR && rs == 1)
            {
                // A transposed (the SYRK of a Gram, MᵀM): the MR values of step p are contiguous, one block copy.
                for (var p = 0; p < kc; p++)
                {
                    Unsafe.CopyBlockUnaligned(dst + (p * MR), src + (p * cs), (uint)(MR * sizeof(T)));
                }

                continue;
            }

            if (mrr == MR)
            {
                for (var p = cs == 1 ? PackRowsAvx(src, rs, kc, dst) : 0; p < kc; p++)
                {
                    var sp = src + (p * cs);
                    var dp = dst + (p * MR);
                    dp[0] = sp[0];
                    dp[1] = sp[rs];
                    dp[2] = sp[2 * rs];
                    dp[3] = sp[3 * rs];
                    dp[4] = sp[4 * rs];
                    dp[5] = sp[5 * rs];
                }

                continue;
            }

            for (var p = 0; p < kc; p++)
            {
                var sp = src + (p * cs);
                var dp = dst + (p * MR);
                for (var i = 0; i < MR; i++)
                {
                    dp[i] = i < mrr ? sp[i * rs] : T.Zero;
                }
            }
        }
    }

    /// <summary>
    /// The MR = 6 rows of a row-major A (column stride 1) from <paramref name="src"/> (row stride <paramref name="rs"/>)
    /// packed p-major into <paramref name="dst"/> for the leading steps p that fill whole 256-bit registers: each row's
    /// registers transposed in registers (rows 0–3 by a 4 × 4 transpose, rows 4–5 by pairs), so that the packing of A,
    /// which otherwise moves one element per instruction, keeps up with the micro-kernel in products of depth 64. Returns
    /// the first step left to the caller (0 without AVX or for other element types).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int PackRowsAvx<T>(T* src, nint rs, int kc, T* dst)
        where T : unmanaged
    {
        if (!Avx.IsSupported)
        {
            return 0;
        }

        if (typeof(T) == typeof(float))
        {
            return PackRowsAvx((float*)src, rs, kc, (float*)dst);
        }

        return typeof(T) == typeof(double) ? PackRowsAvx((double*)src, rs, kc, (double*)dst) : 0;
    }

    // Fully optimised from the first call: Tier-0 code of these register shuffles is slower than the scalar loop.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int PackRowsAvx(float* s, nint rs, int kc, float* d)
    {
        var p = 0;
        for (; p + 8 <= kc; p += 8)
        {
            LoadSixRows(s + p, rs, out var r0, out var r1, out var r2, out var r3, out var r4, out var r5);
            var a = Avx.UnpackLow(r0, r1).AsDouble();
            var b = Avx.UnpackHigh(r0, r1).AsDouble();
            var c = Avx.UnpackLow(r2, r3).AsDouble();
            var e = Avx.UnpackHigh(r2, r3).AsDouble();

            // Rows 0–3 of steps (p, p + 4), (p + 1, p + 5), …: the two 128-bit halves of each.
            var q0 = Avx.UnpackLow(a, c).AsSingle();
            var q1 = Avx.UnpackHigh(a, c).AsSingle();
            var q2 = Avx.UnpackLow(b, e).AsSingle();
            var q3 = Avx.UnpackHigh(b, e).AsSingle();

            // Rows 4–5 as one 64-bit pair per step: f holds steps p, p + 1, p + 4, p + 5; g steps p + 2, p + 3, p + 6, p + 7.
            var f = Avx.UnpackLow(r4, r5).AsDouble();
            var g = Avx.UnpackHigh(r4, r5).AsDouble();
            var o = d + (p * MR);
            Step(o, q0.GetLower(), f.GetElement(0));
            Step(o + MR, q1.GetLower(), f.GetElement(1));
            Step(o + (2 * MR), q2.GetLower(), g.GetElement(0));
            Step(o + (3 * MR), q3.GetLower(), g.GetElement(1));
            Step(o + (4 * MR), q0.GetUpper(), f.GetElement(2));
            Step(o + (5 * MR), q1.GetUpper(), f.GetElement(3));
            Step(o + (6 * MR), q2.GetUpper(), g.GetElement(2));
            Step(o + (7 * MR), q3.GetUpper(), g.GetElement(3));
        }

        return p;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Step(float* o, Vector128<float> rows03, double rows45)
        {
            rows03.Store(o);
            *(double*)(o + 4) = rows45;
        }
    }

    // Fully optimised from the first call: Tier-0 code of these register shuffles is slower than the scalar loop.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int PackRowsAvx(double* s, nint rs, int kc, double* d)
    {
        var p = 0;
        for (; p + 4 <= kc; p += 4)
        {
            LoadSixRows(s + p, rs, out var r0, out var r1, out var r2, out var r3, out var r4, out var r5);
            var a = Avx.UnpackLow(r0, r1);
            var b = Avx.UnpackHigh(r0, r1);
            var c = Avx.UnpackLow(r2, r3);
            var e = Avx.UnpackHigh(r2, r3);

            // Rows 4–5: f holds steps p and p + 2, g steps p + 1 and p + 3.
            var f = Avx.UnpackLow(r4, r5);
            var g = Avx.UnpackHigh(r4, r5);
            var o = d + (p * MR);
            Avx.Permute2x128(a, c, 0x20).Store(o);
            f.GetLower().Store(o + 4);
            Avx.Permute2x128(b, e, 0x20).Store(o + MR);
            g.GetLower().Store(o + MR + 4);
            Avx.Permute2x128(a, c, 0x31).Store(o + (2 * MR));
            f.GetUpper().Store(o + (2 * MR) + 4);
            Avx.Permute2x128(b, e, 0x31).Store(o + (3 * MR));
            g.GetUpper().Store(o + (3 * MR) + 4);
        }

        return p;
    }

    /// <summary>
    /// One 256-bit register from each of six rows <paramref name="rs"/> apart (the rows of a packed A panel). Six out
    /// registers, not a struct of six: the JIT neither inlines nor promotes a struct of more than four registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoadSixRows<T>(T* q, nint rs, out Vector256<T> r0, out Vector256<T> r1, out Vector256<T> r2, out Vector256<T> r3,
        out Vector256<T> r4, out Vector256<T> r5)
        where T : unmanaged
    {
        r0 = Vector256.Load(q);
        r1 = Vector256.Load(q + rs);
        r2 = Vector256.Load(q + (2 * rs));
        r3 = Vector256.Load(q + (3 * rs));
        r4 = Vector256.Load(q + (4 * rs));
        r5 = Vector256.Load(q + (5 * rs));
    }

    /// <summary>Packs B[pc:pc+kc, jc:jc+nc] into nr-column panels, p-major (nr values per step p), zero-padded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB<T>(PinnedMatrix<T> b, int pc, int kc, int jc, int nc, int nr, T* pack)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (b.Symmetric)
        {
            PackSymmetricB(b, pc, kc, jc, nc, nr, pack);
            return;
        }

        var rs = b.RowStride;
        var cs = b.ColStride;
        for (var jr = 0; jr < nc; jr += nr)
        {
            var nrr = Math.Min(nr, nc - jr);
            var dst = pack + ((nint)jr * kc);
            if (b.Windowed)
            {
                var bytes = (uint)(nrr * sizeof(T));
                for (var p = 0; p < kc; p++)
                {
                    var row = dst + (p * nr);
                    Unsafe.CopyBlockUnaligned(row, b.Row(pc + p) + jc + jr, bytes);
                    for (var j = nrr; j < nr; j++)
                    {
                        row[j] = T.Zero;
                    }
                }

                continue;
            }

            var src = b.Data + (pc * rs) + ((jc + jr) * cs);
            if (cs == 1)
            {
                var bytes = (uint)(nrr * sizeof(T));
                for (var p = 0; p < kc; p++)
                {
                    var row = dst + (p * nr);
                    Unsafe.CopyBlockUnaligned(row, src + (p * rs), bytes);
                    for (var j = nrr; j < nr; j++)
                    {
                        row[j] = T.Zero;
                    }
                }

                continue;
            }

            // A transposed B: step p reads one element of each of the nrr source rows; the nrr cache lines in use
            // stay in L1 across consecutive steps, and the writes are sequential. Float32 rows contiguous along p (Bᵀ
            // row-major, as in A·Bᵀ and the Gram products) go by 8 × 8 blocks transposed in registers first.
            var p0 = rs == 1 ? PackTransposedAvx(src, cs, kc, nrr, nr, dst) : 0;
            for (var p = p0; p < kc; p++)
            {
                var sp = src + (p * rs);
                var dp = dst + (p * nr);
                var j = 0;
                for (; j < nrr; j++)
                {
                    dp[j] = sp[j * cs];
                }

                for (; j < nr; j++)
                {
                    dp[j] = T.Zero;
                }
            }
        }
    }

    /// <summary>
    /// The leading steps, in whole blocks of 8, of a transposed float32 B panel whose source rows (one per column j, stride
    /// <paramref name="cs"/>) are contiguous along p: 8 × 8 blocks transposed in registers, the columns past the last
    /// whole 8 value by value. Returns the first step left to the caller (0 without AVX, on the scalar path, or for
    /// float64).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int PackTransposedAvx<T>(T* src, nint cs, int kc, int nrr, int nr, T* dst)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) != typeof(float) || !Avx.IsSupported || SimdPaths.Current == SimdPath.Scalar || cs > int.MaxValue)
        {
            return 0;
        }

        var k8 = kc / 8 * 8;
        var n8 = nrr / 8 * 8;
        for (var p = 0; p < k8; p += 8)
        {
            for (var j = 0; j < n8; j += 8)
            {
                Transposition.Block8x8(ref *(float*)(src + p + (j * cs)), (int)cs, ref *(float*)(dst + (p * nr) + j), nr);
            }

            for (var q = p; q < p + 8; q++)
            {
                var dp = dst + (q * nr);
                for (var j = n8; j < nrr; j++)
                {
                    dp[j] = src[q + (j * cs)];
                }

                for (var j = nrr; j < nr; j++)
                {
                    dp[j] = T.Zero;
                }
            }
        }

        return k8;
    }

    /// <summary>
    /// <see cref="PackB{T}"/> for a symmetric view: in each step p the entries on or below the diagonal are one
    /// contiguous run of row p, those above it come from the mirrored lower entries (one element of each later row). The
    /// steps wholly above the panel's diagonal block are the transpose of rows j0 … j0+nrr−1, packed by register
    /// transposes as a transposed B is, so that reading F through this view costs about a plain pack of F, not a pack
    /// plus a mirror of its lower triangle.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackSymmetricB<T>(PinnedMatrix<T> b, int pc, int kc, int jc, int nc, int nr, T* pack)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var data = b.Data;
        var ld = b.RowStride;
        for (var jr = 0; jr < nc; jr += nr)
        {
            var nrr = Math.Min(nr, nc - jr);
            var j0 = b.ColShift + jc + jr;
            var d0 = pack + ((nint)jr * kc);
            var above = PackTransposedAvx(data + (j0 * ld) + pc, ld, Math.Clamp(j0 - pc, 0, kc), nrr, nr, d0);
            for (var p = above; p < kc; p++)
            {
                var gp = pc + p;
                var dp = d0 + (p * nr);
                var lower = Math.Clamp(gp + 1 - j0, 0, nrr);
                Unsafe.CopyBlockUnaligned(dp, data + (gp * ld) + j0, (uint)(lower * sizeof(T)));
                for (var j = nrr; j < nr; j++)
                {
                    dp[j] = T.Zero;
                }
            }

            // Above the diagonal, column j of the panel is a contiguous run of row j0 + j (read sequentially; the
            // writes, nr apart, stay within the L1-resident panel).
            for (var j = 0; j < nrr; j++)
            {
                var gj = j0 + j;
                var pEnd = Math.Clamp(gj - pc, 0, kc);
                var src = data + (gj * ld) + pc;
                var dj = d0 + j;
                for (var p = above; p < pEnd; p++)
                {
                    dj[p * nr] = src[p];
                }
            }
        }
    }
}
