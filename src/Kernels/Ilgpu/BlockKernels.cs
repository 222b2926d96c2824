using ILGPU;

namespace WoodFisher.Kernels.Ilgpu;

/// <summary>
/// The ILGPU kernels of <see cref="IlgpuBackend"/>, written once over the element type <c>T</c> (float or double)
/// with arithmetic from the <c>TOps</c> struct. Inverse blocks F live in one buffer, block b a c_b × c_b
/// row-major square at <c>SquareOffsets[b]</c>. Gradient and vector chunks are row-major (rows × d).
/// Every failure is recorded in a per-block status word (non-zero = lost positive definiteness) that the host checks.
/// The updates read and write column i of a block where the formula says row i: the Woodbury recursion already takes
/// F_b symmetric (U = F⁻¹G stands for both F⁻¹G and (GᵀF⁻¹)ᵀ), and with consecutive threads owning consecutive
/// coordinates a warp's accesses to F are one contiguous segment instead of 32 rows c apart. <see cref="Multiply"/>
/// serves any block the caller wrote, so it reads rows.
/// </summary>
internal static partial class BlockKernels<T, TOps>
    where T : unmanaged
    where TOps : struct, IScalarOps<T>
{
    /// <summary>The largest k of a rank-k step (the width of <see cref="RankKSolve"/>'s local row).</summary>
    public const int MaxRank = 32;

    // Thread per (coordinate q, column j < c_b of q's block): F_b[i, j] = value·δ_ij, so no separate memset is needed.
    public static void SetScaledIdentity(Index2D index, ArrayView<T> f, DeviceLayout layout, T value)
    {
        int j = index.Y;
        var (b, c, off) = layout.Locate(index.X);
        if (j >= c)
        {
            return;
        }

        var i = index.X - off;
        f[layout.SquareOffsets[b] + ((long)i * c) + j] = i == j ? value : default(TOps).Zero;
    }

    // Thread per coordinate q: u[q] = Σ_j F_b[i, j] g[row, off_b + j], the block mat-vec for one gradient row.
    public static void RankOneProduct(Index1D index, ArrayView<T> f, DeviceLayout layout, ArrayView<T> g, ArrayView<T> u)
    {
        int q = index;
        u[q] = ColumnDot(f, layout, q, g, 0);
    }

    // Thread per coordinate q of block b, one Sherman–Morrison step: den_b = N + g_bᵀu_b (every thread of the block
    // computes the same value, which saves a launch and a grid-wide barrier), F_b[:, i] −= u[q]·u_b / den_b on q's own
    // column, then uNext[q] = F_b[:, i]·gNext_b with the updated column (hasNext ≠ 0). A non-positive or non-finite den_b marks the
    // block failed (its first coordinate writes the status).
    public static void RankOneStep(Index1D index, ArrayView<T> f, DeviceLayout layout, ArrayView<T> g, ArrayView<T> u, T normalizer, ArrayView<T> gNext, ArrayView<T> uNext, int hasNext, ArrayView<int> status)
    {
        int q = index;
        var op = default(TOps);
        var (b, c, off) = layout.Locate(q);
        var den = normalizer;
        for (var j = 0; j < c; j++)
        {
            den = op.Add(den, op.Mul(g[off + j], u[off + j]));
        }

        if (!op.IsPositiveFinite(den))
        {
            if (q == off)
            {
                status[b] = 1;
            }

            return;
        }

        var coef = op.Div(u[q], den);
        var column = layout.SquareOffsets[b] + (q - off);
        var s = op.Zero;
        for (var j = 0; j < c; j++)
        {
            var at = column + ((long)j * c);
            var x = op.Sub(f[at], op.Mul(coef, u[off + j]));
            f[at] = x;
            s = op.Add(s, op.Mul(x, gNext[off + j]));
        }

        if (hasNext != 0)
        {
            uNext[q] = s;
        }
    }

    // Group of (W × R threads) per W consecutive coordinates (grid X): thread (x, y) computes U[q, t] = Σ_j F_b[i, j]
    // G[t, off_b + j] for q = W·grid + x and t = y, y + R, … < k; U is d × stride. The R rows of a group read the same
    // segments of F at about the same time, so F comes from DRAM about once per step rather than once per gradient.
    public static void RankKProduct(ArrayView<T> f, DeviceLayout layout, ArrayView<T> g, int dimension, ArrayView<T> u, int stride, int k)
    {
        var q = (Grid.IdxX * Group.DimX) + Group.IdxX;
        if (q >= dimension)
        {
            return;
        }

        for (var t = Group.IdxY; t < k; t += Group.DimY)
        {
            u[((long)q * stride) + t] = ColumnDot(f, layout, q, g, (long)t * dimension);
        }
    }

    // Thread per (coordinate q, gradient t): U[q, t] = σ G[t, q], the product of a fresh block F_b = σI with the chunk
    // (one nonzero term, so the same value RankKProduct would give, without its c-long loop).
    public static void RankKScaled(Index2D index, ArrayView<T> g, int dimension, T sigma, ArrayView<T> u, int stride)
    {
        var op = default(TOps);
        int q = index.X;
        int t = index.Y;
        u[((long)q * stride) + t] = op.Mul(sigma, g[((long)t * dimension) + q]);
    }

    // Thread per (t, s, block b) of the k × k system: S_b[s, t] = N·δ_st + Σ_i G[s, off_b + i] U[off_b + i, t]; S_b has
    // leading dimension stride. t is the fastest index, so a warp reads contiguous U and one G value at a time.
    public static void RankKGram(Index3D index, DeviceLayout layout, ArrayView<T> g, int dimension, ArrayView<T> u, int stride, T normalizer, ArrayView<T> system)
    {
        var op = default(TOps);
        int t = index.X;
        int s = index.Y;
        int b = index.Z;
        var c = layout.Sizes[b];
        var off = layout.Offsets[b];
        var acc = s == t ? normalizer : op.Zero;
        var gRow = ((long)s * dimension) + off;
        for (var i = 0; i < c; i++)
        {
            acc = op.Add(acc, op.Mul(g[gRow + i], u[((long)(off + i) * stride) + t]));
        }

        system[((long)b * stride * stride) + ((long)s * stride) + t] = acc;
    }

    // Thread per block b: Cholesky S_b = LLᵀ in place (k × k, leading dimension stride); failure marks the block.
    public static void RankKFactor(Index1D index, ArrayView<T> system, int k, int stride, ArrayView<int> status)
    {
        int b = index;
        if (!CholeskyInPlace(system, (long)b * stride * stride, k, stride))
        {
            status[b] = 1;
        }
    }

    // Thread per coordinate q: W[q, :] = S_b⁻¹ U[q, :] by two triangular solves with the factor of q's block. The row
    // is solved in thread-local memory, which the GPU interleaves across a warp's threads: in U and W consecutive
    // threads' rows lie stride elements apart, so each of the solves' k² accesses would touch 32 cache lines per warp.
    public static void RankKSolve(Index1D index, DeviceLayout layout, ArrayView<T> system, int k, int stride, ArrayView<T> u, ArrayView<T> w)
    {
        int q = index;
        var b = layout.CoordinateBlock[q];
        var row = (long)q * stride;
        var x = LocalMemory.Allocate<T>(MaxRank);
        for (var t = 0; t < k; t++)
        {
            x[t] = u[row + t];
        }

        CholeskySolveInPlace(system, (long)b * stride * stride, k, stride, x, 0);
        for (var t = 0; t < k; t++)
        {
            w[row + t] = x[t];
        }
    }

    // Thread per (coordinate q, column j < c_b of q's block): F_b[i, j] −= Σ_t W[q, t] U[off_b + j, t]. The untiled
    // form of RankKApply, used where group barriers are expensive (ILGPU's CPU accelerator emulates them).
    public static void RankKApplySimple(Index2D index, ArrayView<T> f, DeviceLayout layout, ArrayView<T> u, ArrayView<T> w, int k, int stride)
    {
        var op = default(TOps);
        int q = index.X;
        int j = index.Y;
        var (b, c, off) = layout.Locate(q);
        if (j >= c)
        {
            return;
        }

        var wRow = (long)q * stride;
        var uRow = (long)(off + j) * stride;
        var acc = op.Zero;
        for (var t = 0; t < k; t++)
        {
            acc = op.Add(acc, op.Mul(w[wRow + t], u[uRow + t]));
        }

        var at = layout.SquareOffsets[b] + ((long)(q - off) * c) + j;
        f[at] = op.Sub(f[at], acc);
    }

    // Thread per coordinate q: diagonal[q] = F_b[i, i].
    public static void Diagonal(Index1D index, ArrayView<T> f, DeviceLayout layout, ArrayView<T> diagonal)
    {
        int q = index;
        var (b, c, off) = layout.Locate(q);
        var i = q - off;
        diagonal[q] = f[layout.SquareOffsets[b] + ((long)i * c) + i];
    }

    // Thread per (coordinate q, vector v): result[v, q] = Σ_j F_b[i, j] x[v, off_b + j].
    public static void Multiply(Index2D index, ArrayView<T> f, DeviceLayout layout, ArrayView<T> x, ArrayView<T> result, int dimension)
    {
        var op = default(TOps);
        int q = index.X;
        int v = index.Y;
        var (b, c, off) = layout.Locate(q);
        var row = layout.SquareOffsets[b] + ((long)(q - off) * c);
        var xStart = ((long)v * dimension) + off;
        var s = op.Zero;
        for (var j = 0; j < c; j++)
        {
            s = op.Add(s, op.Mul(f[row + j], x[xStart + j]));
        }

        result[((long)v * dimension) + q] = s;
    }

    // Thread per (coordinate q = firstCoordinate + index.X of the group's blocks, position j in its block's Q):
    // columns[ColumnStart[r] + i·n + j] = F_b[i, Q_j] with r = b − FirstBlock, gathering [F⁻¹]_{b,Q} (c_b × n, row-major).
    public static void ObsGather(Index2D index, ArrayView<T> f, DeviceLayout layout, ObsPlanView plan, int firstCoordinate, ArrayView<T> columns)
    {
        int q = firstCoordinate + index.X;
        int j = index.Y;
        var (b, c, off) = layout.Locate(q);
        var r = b - plan.FirstBlock;
        var start = plan.EntryStart[r];
        var n = plan.EntryStart[r + 1] - start;
        if (j >= n)
        {
            return;
        }

        var i = q - off;
        columns[plan.ColumnStart[r] + ((long)i * n) + j] = f[layout.SquareOffsets[b] + ((long)i * c) + plan.Local[start + j]];
    }

    // Σ_j F_b[j, i] x[rowBase + off_b + j] for coordinate q = off_b + i: column i of q's block (its row i, by symmetry)
    // against the block's segment of the vector that starts at x[rowBase].
    private static T ColumnDot(ArrayView<T> f, DeviceLayout layout, int q, ArrayView<T> x, long rowBase)
    {
        var op = default(TOps);
        var (b, c, off) = layout.Locate(q);
        var column = layout.SquareOffsets[b] + (q - off);
        var xStart = rowBase + off;
        var s = op.Zero;
        for (var j = 0; j < c; j++)
        {
            s = op.Add(s, op.Mul(f[column + ((long)j * c)], x[xStart + j]));
        }

        return s;
    }

    // Lower Cholesky of the n × n matrix at a[at] (leading dimension ld) in place; false when a pivot is not positive and finite.
    private static bool CholeskyInPlace(ArrayView<T> a, long at, int n, int ld)
    {
        var op = default(TOps);
        for (var j = 0; j < n; j++)
        {
            var rowJ = at + ((long)j * ld);
            var d = a[rowJ + j];
            for (var p = 0; p < j; p++)
            {
                d = op.Sub(d, op.Mul(a[rowJ + p], a[rowJ + p]));
            }

            if (!op.IsPositiveFinite(d))
            {
                return false;
            }

            var l = op.Sqrt(d);
            a[rowJ + j] = l;
            for (var i = j + 1; i < n; i++)
            {
                var rowI = at + ((long)i * ld);
                var s = a[rowI + j];
                for (var p = 0; p < j; p++)
                {
                    s = op.Sub(s, op.Mul(a[rowI + p], a[rowJ + p]));
                }

                a[rowI + j] = op.Div(s, l);
            }
        }

        return true;
    }

    // x ← (LLᵀ)⁻¹x for the factor at a[at] (n × n, leading dimension ld) and x at x[xAt..xAt+n).
    private static void CholeskySolveInPlace(ArrayView<T> a, long at, int n, int ld, ArrayView<T> x, long xAt)
    {
        var op = default(TOps);
        for (var i = 0; i < n; i++)
        {
            var rowI = at + ((long)i * ld);
            var s = x[xAt + i];
            for (var p = 0; p < i; p++)
            {
                s = op.Sub(s, op.Mul(a[rowI + p], x[xAt + p]));
            }

            x[xAt + i] = op.Div(s, a[rowI + i]);
        }

        for (var i = n - 1; i >= 0; i--)
        {
            var s = x[xAt + i];
            for (var p = i + 1; p < n; p++)
            {
                s = op.Sub(s, op.Mul(a[at + ((long)p * ld) + i], x[xAt + p]));
            }

            x[xAt + i] = op.Div(s, a[at + ((long)i * ld) + i]);
        }
    }
}
