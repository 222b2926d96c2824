using ILGPU;

namespace WoodFisher.Kernels.Ilgpu;

/// <summary>
/// The group forms of the rank-k step's small systems for GPUs: the k × k Gram S_b = N·I + G_b U_b of every block and
/// its Cholesky factor, each block's work spread over one group and staged in shared memory (the one-thread-per-entry
/// and one-thread-per-block forms read the same values from global memory k and k² times over).
/// </summary>
internal static partial class BlockKernels<T, TOps>
{
    /// <summary>Coordinates of G and U a <see cref="RankKGramTiled"/> group stages per barrier.</summary>
    public const int GramDepth = 32;

    /// <summary>Shared-memory elements of <see cref="RankKGramTiled"/> for a DimX × DimY group.</summary>
    public static int GramShared(int dimX, int dimY) => (4 * dimY * (GramDepth + 1)) + (GramDepth * dimX);

    /// <summary>Shared-memory elements of <see cref="RankKFactorTiled"/> for k ≤ stride.</summary>
    public static int FactorShared(int stride) => stride * (stride + 1);

    // Group per block b (grid X): S_b[s, t] = N·δ_st + Σ_i G[s, off_b + i] U[off_b + i, t] (leading dimension stride), in
    // passes of DimX columns t × 4·DimY rows s. Thread (x, y) owns t = t0 + x and s = s0 + y + DimY·a (a < 4); each
    // barrier stages GramDepth coordinates of the pass's G rows and U columns.
    public static void RankKGramTiled(DeviceLayout layout, ArrayView<T> g, int dimension, ArrayView<T> u, int stride, T normalizer, int k, ArrayView<T> system)
    {
        var op = default(TOps);
        int gx = Group.DimX, gy = Group.DimY, tx = Group.IdxX, ty = Group.IdxY;
        var b = Grid.IdxX;
        var c = layout.Sizes[b];
        var off = layout.Offsets[b];
        var rows = 4 * gy;
        var gLd = GramDepth + 1;
        var shared = SharedMemory.GetDynamic<T>();
        var gS = shared.SubView(0, rows * gLd);
        var uS = shared.SubView(rows * gLd, GramDepth * gx);
        var sBase = (long)b * stride * stride;
        for (var t0 = 0; t0 < k; t0 += gx)
        {
            for (var s0 = 0; s0 < k; s0 += rows)
            {
                T a0 = op.Zero, a1 = op.Zero, a2 = op.Zero, a3 = op.Zero;
                for (var i0 = 0; i0 < c; i0 += GramDepth)
                {
                    for (var ss = ty; ss < rows; ss += gy)
                    {
                        var gRow = ((long)(s0 + ss) * dimension) + off + i0;
                        for (var ii = tx; ii < GramDepth; ii += gx)
                        {
                            gS[(ss * gLd) + ii] = s0 + ss < k && i0 + ii < c ? g[gRow + ii] : op.Zero;
                        }
                    }

                    for (var ii = ty; ii < GramDepth; ii += gy)
                    {
                        uS[(ii * gx) + tx] = t0 + tx < k && i0 + ii < c ? u[((long)(off + i0 + ii) * stride) + t0 + tx] : op.Zero;
                    }

                    Group.Barrier();
                    for (var ii = 0; ii < GramDepth; ii++)
                    {
                        var x = uS[(ii * gx) + tx];
                        a0 = op.Add(a0, op.Mul(gS[(ty * gLd) + ii], x));
                        a1 = op.Add(a1, op.Mul(gS[((ty + gy) * gLd) + ii], x));
                        a2 = op.Add(a2, op.Mul(gS[((ty + (2 * gy)) * gLd) + ii], x));
                        a3 = op.Add(a3, op.Mul(gS[((ty + (3 * gy)) * gLd) + ii], x));
                    }

                    Group.Barrier();
                }

                var t = t0 + tx;
                if (t < k)
                {
                    StoreGram(system, sBase, stride, k, s0 + ty, t, normalizer, a0);
                    StoreGram(system, sBase, stride, k, s0 + ty + gy, t, normalizer, a1);
                    StoreGram(system, sBase, stride, k, s0 + ty + (2 * gy), t, normalizer, a2);
                    StoreGram(system, sBase, stride, k, s0 + ty + (3 * gy), t, normalizer, a3);
                }
            }
        }
    }

    // Group per block b (grid X): the lower Cholesky factor of S_b (k × k, leading dimension stride) in place, right-
    // looking in shared memory: at step j every thread takes the pivot, then the rows below it, thread by thread, are
    // scaled and update their own trailing entries. A pivot that is not positive and finite marks the block failed
    // (the same decision in every thread, so the group leaves together).
    public static void RankKFactorTiled(ArrayView<T> system, int k, int stride, ArrayView<int> status)
    {
        var op = default(TOps);
        var b = Grid.IdxX;
        var tid = Group.IdxX;
        var threads = Group.DimX;
        var ld = stride + 1;
        var a = SharedMemory.GetDynamic<T>().SubView(0, stride * ld);
        var at = (long)b * stride * stride;
        for (var i = tid; i < k; i += threads)
        {
            for (var j = 0; j <= i; j++)
            {
                a[(i * ld) + j] = system[at + ((long)i * stride) + j];
            }
        }

        Group.Barrier();
        for (var j = 0; j < k; j++)
        {
            var d = a[(j * ld) + j];
            if (!op.IsPositiveFinite(d))
            {
                if (tid == 0)
                {
                    status[b] = 1;
                }

                return;
            }

            var l = op.Sqrt(d);
            for (var i = j + 1 + tid; i < k; i += threads)
            {
                a[(i * ld) + j] = op.Div(a[(i * ld) + j], l);
            }

            Group.Barrier();
            for (var i = j + 1 + tid; i < k; i += threads)
            {
                var lij = a[(i * ld) + j];
                for (var p = j + 1; p <= i; p++)
                {
                    a[(i * ld) + p] = op.Sub(a[(i * ld) + p], op.Mul(lij, a[(p * ld) + j]));
                }
            }

            if (tid == 0)
            {
                a[(j * ld) + j] = l;
            }

            Group.Barrier();
        }

        for (var i = tid; i < k; i += threads)
        {
            for (var j = 0; j <= i; j++)
            {
                system[at + ((long)i * stride) + j] = a[(i * ld) + j];
            }
        }
    }

    private static void StoreGram(ArrayView<T> system, long sBase, int stride, int k, int s, int t, T normalizer, T value)
    {
        if (s < k)
        {
            system[sBase + ((long)s * stride) + t] = s == t ? default(TOps).Add(normalizer, value) : value;
        }
    }
}
