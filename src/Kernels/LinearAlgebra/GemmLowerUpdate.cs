using System.Collections.Concurrent;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels;

internal static unsafe partial class Gemm
{
    /// <summary>
    /// The lower triangle of C (n × n, leading dimension <paramref name="ldc"/>, diagonal included) += s_i·W_iW_jᵀ for
    /// j ≤ i, with W n × k (row-major, leading dimension <paramref name="ldw"/>) and s_i = +1 for the rows i &lt;
    /// <paramref name="split"/>, −1 from it on: the symmetric rank-k step of a blocked Cholesky factor or sweep. W is
    /// packed once per <see cref="KC"/> steps of k, as the A operand (MR-row panels, the rows from
    /// <paramref name="split"/> on negated) and as the B operand (2W-column panels), and the micro-kernel runs over C's lower
    /// register tiles where C lies; tiles that cross the diagonal also write entries above it, so C's strict upper triangle is
    /// scratch. Negation is exact and rounding symmetric, so every entry of the lower triangle equals a lower-only
    /// <c>Multiply(±1, W, Wᵀ)</c>'s bit for bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void LowerRankUpdate<T>(int n, int k, T* w, int ldw, T* c, nint ldc, int split, bool parallel)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (n == 0 || k == 0)
        {
            return;
        }

        split = Math.Clamp(split, 0, n);
        var nr = NR<T>();
        var kcMax = Math.Min(KC, k);
        var aLength = (n + MR - 1) / MR * MR * kcMax;
        var bLength = (n + nr - 1) / nr * nr * kcMax;
        using var rental = new Rental<T>(aLength + bLength + (2 * PackAlignment / sizeof(T)));
        var blocks = (n + MC - 1) / MC;
        var cores = Environment.ProcessorCount;
        fixed (T* start = rental.Array)
        {
            var aPack = Align(start);
            var bPack = Align(aPack + aLength);
            for (var pc = 0; pc < k; pc += KC)
            {
                var kc = Math.Min(KC, k - pc);
                PackA(PinnedMatrix<T>.RowMajor(w, ldw, transpose: false), 0, n, pc, kc, aPack);
                NegatePackedRows(aPack, split, n, kc);
                PackB(PinnedMatrix<T>.RowMajor(w, ldw, transpose: true), pc, kc, 0, n, nr, bPack);
                var update = new LowerUpdate<T>(n, kc, aPack, bPack, c, ldc, nr);
                if (parallel && cores > 1 && blocks > 1)
                {
                    // Blocks lower down cover more of the triangle: handed out one at a time, largest first.
                    Parallel.ForEach(Partitioner.Create(0, blocks, 1), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (range) =>
                    {
                        for (var i = range.Item1; i < range.Item2; i++)
                        {
                            update.RowBlock(blocks - 1 - i);
                        }
                    });
                }
                else
                {
                    for (var i = 0; i < blocks; i++)
                    {
                        update.RowBlock(i);
                    }
                }
            }
        }
    }

    /// <summary>Negates the rows i0..i1 of A packed by <see cref="PackA{T}"/> (MR-row panels of depth kc, p-major).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NegatePackedRows<T>(T* pack, int i0, int i1, int kc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (i0 >= i1)
        {
            return;
        }

        // The panel holding row i0 row by row, the whole panels after it at once.
        var first = i0 / MR;
        for (var i = i0; i < Math.Min(i1, (first + 1) * MR); i++)
        {
            var panel = pack + ((nint)first * MR * kc) + (i - (first * MR));
            for (var p = 0; p < kc; p++)
            {
                panel[p * MR] = -panel[p * MR];
            }
        }

        // Times −1 is exact: the negation, on the shared SIMD path.
        var rest = new Span<T>(pack + ((nint)(first + 1) * MR * kc), Math.Max(0, ((i1 + MR - 1) / MR) - first - 1) * MR * kc);
        Cpu.SimdOps.Scale<T>(rest, -T.One, rest);
    }

    /// <summary>
    /// Z (m × k, row-major, leading dimension <paramref name="ldz"/>) += X·V for X m × k and V k × k upper triangular
    /// (row-major, leading dimension <paramref name="ldv"/>; entries below the diagonal must be zero, k ≤ <see cref="KC"/>):
    /// the micro-kernel over packed panels, each column panel of V to the depth of its last nonzero row only (a quarter of
    /// the products of a full k × k B skipped at k = 2·2W).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void MultiplyUpperTriangular<T>(int m, int k, PinnedMatrix<T> x, T* v, int ldv, T* z, int ldz, bool parallel)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (m == 0 || k == 0)
        {
            return;
        }

        if (k > KC)
        {
            throw new ArgumentOutOfRangeException(nameof(k), k, $"A triangular factor of order at most {KC} is multiplied in one panel.");
        }

        var nr = NR<T>();
        var aLength = (m + MR - 1) / MR * MR * k;
        var bLength = (k + nr - 1) / nr * nr * k;
        using var rental = new Rental<T>(aLength + bLength + (2 * PackAlignment / sizeof(T)));
        fixed (T* start = rental.Array)
        {
            var aPack = Align(start);
            var bPack = Align(aPack + aLength);
            PackA(x, 0, m, 0, k, aPack);
            PackB(PinnedMatrix<T>.RowMajor(v, ldv, transpose: false), 0, k, 0, k, nr, bPack);
            var panels = (m + MR - 1) / MR;
            var parts = parallel ? Math.Min(Environment.ProcessorCount, panels / 8) : 1;
            var chunk = (panels + Math.Max(parts, 1) - 1) / Math.Max(parts, 1) * MR;
            var (ap0, bp0, z0) = ((nint)aPack, (nint)bPack, (nint)z);
            BlockParallel.For(Math.Max(parts, 1), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (part) =>
            {
                var i0 = part * chunk;
                TriangularPanels(Math.Min(m, i0 + chunk) - i0, k, (T*)ap0 + ((nint)i0 * k), (T*)bp0, (T*)z0 + ((nint)i0 * ldz), ldz, nr);
            });
        }
    }

    /// <summary>The register tiles of <see cref="MultiplyUpperTriangular{T}"/> for m rows of packed X.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TriangularPanels<T>(int m, int k, T* aPack, T* bPack, T* z, int ldz, int nr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var path = SimdPaths.Current;
        for (var jr = 0; jr < k; jr += nr)
        {
            var bp = new PackedPanel<T>(bPack + ((nint)jr * k), nr);
            for (var ir = 0; ir < m; ir += MR)
            {
                RunKernel(path, aPack + ((nint)ir * k), bp, Math.Min(k, jr + nr), z + ((nint)ir * ldz) + jr, ldz, T.One, Math.Min(MR, m - ir), Math.Min(nr, k - jr), int.MaxValue / 2);
            }
        }
    }

    /// <summary>One packed slice of k of <see cref="LowerRankUpdate{T}"/>, by row blocks of at most <see cref="MC"/> rows.</summary>
    private readonly struct LowerUpdate<T>(int n, int kc, T* aPack, T* bPack, T* c, nint ldc, int nr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void RowBlock(int index)
        {
            var i0 = index * MC;
            var i1 = Math.Min(n, i0 + MC);
            var path = SimdPaths.Current;

            // A column panel of W stays in L1 while the block's row panels pass over it.
            for (var jr = 0; jr < i1; jr += nr)
            {
                var nrr = Math.Min(nr, n - jr);
                var bp = new PackedPanel<T>(bPack + ((nint)jr * kc), nr);
                for (var ir = Math.Max(i0, jr / MR * MR); ir < i1; ir += MR)
                {
                    RunKernel(path, aPack + ((nint)ir * kc), bp, kc, c + (ir * ldc) + jr, ldc, T.One, Math.Min(MR, i1 - ir), nrr, int.MaxValue / 2);
                }
            }
        }
    }
}
