using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels;

/// <summary>
/// Cache-blocked, packed matrix multiply C += α·A·B (Goto/BLIS loop order) with a 6 × 2W register-tile FMA
/// micro-kernel (<see cref="Kernel{T, TV, TS, TP, TC}"/>), W = the SIMD width of <see cref="SimdPaths.Current"/>. Parallel over
/// row blocks, over column slabs when C is wide and short, or over slices of k when C is small and k long.
/// </summary>
internal static unsafe partial class Gemm
{
    internal const int MR = 6;

    /// <summary>Steps of k per packed panel: the products a register tile sums before adding them to C.</summary>
    internal const int KC = 256;
    private const int MC = 96;
    private const int NC = 2048;

    /// <summary>Bytes the packed panels are aligned to (one cache line: whole-register loads never split one).</summary>
    private const int PackAlignment = 64;

    /// <summary>Elements per SIMD register on the path taken now (1 on the scalar path).</summary>
    internal static int Width<T>()
        where T : unmanaged, IFloatingPointIeee754<T>
        => SimdPaths.Current switch
        {
            SimdPath.Avx512 => Vector512<T>.Count,
            SimdPath.Avx2 => Vector256<T>.Count,
            _ => 1,
        };

    /// <summary>Register-tile width NR = 2W.</summary>
    internal static int NR<T>()
        where T : unmanaged, IFloatingPointIeee754<T>
        => 2 * Width<T>();

    /// <summary>Name of the SIMD path taken now.</summary>
    internal static string PathName => SimdPaths.Current switch
    {
        SimdPath.Avx512 => "avx512",
        SimdPath.Avx2 => "avx2",
        _ => "scalar",
    };

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

        fixed (T* pa = a.Data, pb = b.Data, pc = c)
        {
            Multiply(m, n, k, alpha, PinnedMatrix<T>.From(pa, a), PinnedMatrix<T>.From(pb, b), pc + cOffset, ldc, lowerOnly, parallel);
        }
    }

    /// <summary>As the array form, on pinned operands; <paramref name="c"/> points at C[0, 0].</summary>
    internal static void Multiply<T>(int m, int n, int k, T alpha, PinnedMatrix<T> a, PinnedMatrix<T> b, T* c, nint ldc, bool lowerOnly, bool parallel)
        where T : unmanaged, IFloatingPointIeee754<T>
        => MultiplyInto(m, n, k, alpha, a, b, c, ldc, lowerOnly, parallel);

    /// <summary>
    /// Float64 C (m × n) += A·B for float32 A and B: each register tile sums the products of one packed panel (at most
    /// <see cref="KC"/> steps of k) in float32 and adds them to C widened to float64. With <paramref name="lowerOnly"/> only
    /// C's lower triangle (diagonal included) is written: the tiles that straddle the diagonal add their lower part only.
    /// </summary>
    internal static void MultiplyWidening(int m, int n, int k, PinnedMatrix<float> a, PinnedMatrix<float> b, double* c, nint ldc, bool lowerOnly, bool parallel)
        => MultiplyInto(m, n, k, 1f, a, b, c, ldc, lowerOnly, parallel);

    /// <summary>C (of element type <typeparamref name="TC"/>: T, or float64 for float32 products) += α·A·B.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MultiplyInto<T, TC>(int m, int n, int k, T alpha, PinnedMatrix<T> a, PinnedMatrix<T> b, TC* c, nint ldc, bool lowerOnly, bool parallel)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TC : unmanaged, IFloatingPointIeee754<TC>
    {
        if (m == 0 || n == 0 || k == 0)
        {
            return;
        }

        var nr = NR<T>();
        var cores = Environment.ProcessorCount;
        if (parallel && cores > 1 && !lowerOnly)
        {
            if (n > m && n >= 2 * nr)
            {
                // Wide and short: split the columns of B and C across cores instead of the row blocks.
                var parts = Math.Min(cores, n / nr);
                var chunk = (((n + parts - 1) / parts) + nr - 1) / nr * nr;
                BlockParallel.For((n + chunk - 1) / chunk, part =>
                {
                    var j0 = part * chunk;
                    var bj = b.Symmetric ? b.ShiftColumns(j0) : b.At(0, j0);
                    MultiplyInto(m, Math.Min(chunk, n - j0), k, alpha, a, bj, c + j0, ldc, false, false);
                });
                return;
            }

            if (m <= MC && k >= 4 * KC && !b.Symmetric)
            {
                var parts = Math.Min(cores, k / (2 * KC));
                var slice = (k + parts - 1) / parts;
                SplitK<TC>(parts, m, n, c, ldc, (p, cp) =>
                {
                    var k0 = p * slice;
                    MultiplyInto(m, n, Math.Min(slice, k - k0), alpha, a.At(0, k0), b.At(k0, 0), (TC*)cp, n, false, false);
                });
                return;
            }
        }

        // In parallel, row blocks small enough that every core gets one.
        var mcb = parallel && cores > 1 ? Math.Clamp(((m + cores - 1) / cores + MR - 1) / MR * MR, MR, MC) : MC;
        var ncMax = Math.Min(NC, n);
        var bLength = KC * (((ncMax + nr - 1) / nr) * nr);
        using var bRental = new Rental<T>(bLength + (PackAlignment / sizeof(T)));
        var bRent = bRental.Array;
        fixed (T* bStart = bRent)
        {
            var bPack = Align(bStart);
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
                    if (!b.Windowed)
                    {
                        // A windowed B is read in place by the kernel; only its edge tiles are packed, in MacroTile.
                        PackB(b, pc, kc, jc, nc, nr, bPack);
                    }

                    var blocks = (m + mcb - 1) / mcb;
                    if (parallel && blocks > 1)
                    {
                        var jcc = jc;
                        var pcc = pc;
                        var bp = bPack;

                        // Row blocks are handed out one at a time (a lower-only product's blocks grow with their
                        // index, so fixed ranges would leave one core with most of the triangle), largest first.
                        Parallel.ForEach(Partitioner.Create(0, blocks, 1), range =>
                        {
                            for (var i = range.Item1; i < range.Item2; i++)
                            {
                                var ib = lowerOnly ? blocks - 1 - i : i;
                                MacroTile(ib * mcb, Math.Min(mcb, m - (ib * mcb)), jcc, nc, pcc, kc, alpha, a, b, bp, c, ldc, lowerOnly, nr);
                            }
                        });
                    }
                    else
                    {
                        for (var ib = 0; ib < blocks; ib++)
                        {
                            MacroTile(ib * mcb, Math.Min(mcb, m - (ib * mcb)), jc, nc, pc, kc, alpha, a, b, bPack, c, ldc, lowerOnly, nr);
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// C (m × n) += the sum over parts of the products <paramref name="part"/>(p, Cp) writes into private zeroed m × n
    /// matrices Cp (row stride n), run in parallel and summed in part order: for a C too small to share out and a long k,
    /// each core takes one slice of k.
    /// </summary>
    internal static void SplitK<T>(int parts, int m, int n, T* c, nint ldc, Action<int, nint> part)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var partialRental = new Rental<T>(parts * m * n);
        var partial = partialRental.Array;
        fixed (T* p0 = partial)
        {
            var pp = (nint)p0;
            new Span<T>(p0, parts * m * n).Clear();
            BlockParallel.For(parts, p => part(p, pp + (p * m * n * sizeof(T))));
            for (var i = 0; i < m; i++)
            {
                var row = new Span<T>(c + (i * ldc), n);
                for (var p = 0; p < parts; p++)
                {
                    SimdOps.Axpy(T.One, new ReadOnlySpan<T>(p0 + (((p * m) + i) * n), n), row);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MacroTile<T, TC>(
        int ic, int mc, int jc, int nc, int pc, int kc, T alpha, PinnedMatrix<T> a, PinnedMatrix<T> b, T* bPack, TC* c, nint ldc, bool lowerOnly, int nr)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TC : unmanaged, IFloatingPointIeee754<TC>
    {
        if (lowerOnly && jc > ic + mc - 1)
        {
            return;
        }

        using var aRental = new Rental<T>((MC * KC) + (KC * nr) + (2 * PackAlignment / sizeof(T)));
        var aRent = aRental.Array;
        fixed (T* aStart = aRent)
        {
            var aPack = Align(aStart);
            var edgePack = Align(aPack + (MC * KC));
            PackA(a, ic, mc, pc, kc, aPack);
            var path = SimdPaths.Current;
            for (var jr = 0; jr < nc; jr += nr)
            {
                var nrr = Math.Min(nr, nc - jr);
                var direct = b.Windowed && nrr == nr;
                var bp = bPack + ((nint)jr * kc);
                if (b.Windowed && !direct)
                {
                    PackB(b, pc, kc, jc + jr, nrr, nr, edgePack);
                    bp = edgePack;
                }

                for (var ir = 0; ir < mc; ir += MR)
                {
                    var mrr = Math.Min(MR, mc - ir);
                    if (lowerOnly && jc + jr > ic + ir + mrr - 1)
                    {
                        continue;
                    }

                    var ap = aPack + ((nint)ir * kc);
                    var ct = c + ((ic + ir) * ldc) + jc + jr;

                    // A widened product writes no entry above the diagonal: tile column j ≤ row i + diagonal.
                    var diagonal = lowerOnly && typeof(TC) != typeof(T) ? ic + ir - jc - jr : int.MaxValue / 2;
                    if (direct)
                    {
                        RunKernel(path, ap, new WindowPanel<T>(b.Data + jc + jr, b.RowOffsets + pc), kc, ct, ldc, alpha, mrr, nrr, diagonal);
                    }
                    else
                    {
                        RunKernel(path, ap, new PackedPanel<T>(bp, nr), kc, ct, ldc, alpha, mrr, nrr, diagonal);
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RunKernel<T, TP, TC>(SimdPath path, T* a, TP panel, int kc, TC* c, nint ldc, T alpha, int mr, int nr, int diagonal)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TP : struct, IPanel<T>
        where TC : unmanaged, IFloatingPointIeee754<TC>
    {
        switch (path)
        {
            case SimdPath.Avx512:
                Kernel<T, Vector512<T>, Simd512<T>, TP, TC>(a, panel, kc, c, ldc, alpha, mr, nr, diagonal);
                break;
            case SimdPath.Avx2:
                Kernel<T, Vector256<T>, Simd256<T>, TP, TC>(a, panel, kc, c, ldc, alpha, mr, nr, diagonal);
                break;
            default:
                Kernel<T, T, SimdScalar<T>, TP, TC>(a, panel, kc, c, ldc, alpha, mr, nr, diagonal);
                break;
        }
    }

    private static T* Align<T>(T* p)
        where T : unmanaged
        => (T*)(((nint)p + (PackAlignment - 1)) & ~(nint)(PackAlignment - 1));

    /// <summary>Copies the strict lower triangle of the n × n row-major matrix onto the upper.</summary>
    public static void MirrorLower<T>(Span<T> a, int n)
        => SymmetricMirror.LowerToUpper(a, n);
}
