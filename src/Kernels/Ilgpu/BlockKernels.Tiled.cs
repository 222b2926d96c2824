using ILGPU;

namespace WoodFisher.Kernels.Ilgpu;

/// <summary>
/// The shared-memory tiled forms of the rank-k product and apply, the two steps that touch all of F (the rest of a
/// rank-k step is O(d·k²)). A group of DimX × DimY threads computes a tile of the result in which each thread owns
/// 4 × 4 entries, held in registers; the operands are staged in shared memory, so each F entry is read from DRAM once
/// per step and each staged value feeds four multiply-adds. The group shape is the launch's, so the same kernels run
/// with 32 × 8 threads on a GPU and with the few threads of ILGPU's CPU accelerator in CI.
/// </summary>
internal static partial class BlockKernels<T, TOps>
{
    /// <summary>Depth of the F panel a product group stages per barrier (rows j of F).</summary>
    public const int ProductDepth = 32;

    /// <summary>Shared-memory elements of <see cref="RankKProductTiled"/> for a DimX × DimY group.</summary>
    public static int ProductShared(int dimX, int dimY) => (ProductDepth * 4 * dimX) + (4 * dimY * (ProductDepth + 1));

    /// <summary>Shared-memory elements of <see cref="RankKApply"/> for a DimX × DimY group and k ≤ stride.</summary>
    public static int ApplyShared(int dimX, int dimY, int stride) => stride * ((ApplyRows * dimY) + 1 + (4 * dimX) + 1);

    /// <summary>Rows of F per group of <see cref="RankKApply"/>.</summary>
    public static int ApplyHeight(int dimY) => ApplyRows * dimY;

    // Group per (block b = grid X, tile of 4·DimX coordinates of block b = grid Y): U[off_b + i, t] = Σ_j F_b[j, i]
    // G[t, off_b + j] for the tile's i and every t < k, in passes of 4·DimY gradients. Thread (x, y) owns coordinates
    // x + DimX·a and gradients y + DimY·e (a, e < 4). Each barrier stages ProductDepth rows of F's column stripe (one
    // contiguous segment per row: F_b is symmetric, so its column i is its row i) and the matching G columns.
    public static void RankKProductTiled(ArrayView<T> f, DeviceLayout layout, ArrayView<T> g, int dimension, ArrayView<T> u, int stride, int k)
    {
        var op = default(TOps);
        int gx = Group.DimX, gy = Group.DimY, tx = Group.IdxX, ty = Group.IdxY;
        var b = Grid.IdxX;
        var c = layout.Sizes[b];
        var width = 4 * gx;
        var i0 = Grid.IdxY * width;
        if (i0 >= c)
        {
            return;
        }

        var off = layout.Offsets[b];
        var square = layout.SquareOffsets[b];
        var lanes = 4 * gy;
        var gLd = ProductDepth + 1;
        var shared = SharedMemory.GetDynamic<T>();
        var fS = shared.SubView(0, ProductDepth * width);
        var gS = shared.SubView(ProductDepth * width, lanes * gLd);
        for (var t0 = 0; t0 < k; t0 += lanes)
        {
            T a00 = op.Zero, a01 = op.Zero, a02 = op.Zero, a03 = op.Zero, a10 = op.Zero, a11 = op.Zero, a12 = op.Zero, a13 = op.Zero;
            T a20 = op.Zero, a21 = op.Zero, a22 = op.Zero, a23 = op.Zero, a30 = op.Zero, a31 = op.Zero, a32 = op.Zero, a33 = op.Zero;
            for (var j0 = 0; j0 < c; j0 += ProductDepth)
            {
                // Thread (x, y) stages rows y, y + DimY, … of the panel at its own columns x + DimX·a, and G rows y, y + DimY,
                // … at columns x, x + DimX, …: no index division, and each warp reads contiguous segments.
                for (var jj = ty; jj < ProductDepth; jj += gy)
                {
                    var j = j0 + jj;
                    var fRow = square + ((long)j * c);
                    for (var a = 0; a < 4; a++)
                    {
                        var i = tx + (a * gx);
                        fS[(jj * width) + i] = j < c && i0 + i < c ? f[fRow + i0 + i] : op.Zero;
                    }
                }

                for (var tt = ty; tt < lanes; tt += gy)
                {
                    var t = t0 + tt;
                    var gRow = ((long)t * dimension) + off;
                    for (var jj = tx; jj < ProductDepth; jj += gx)
                    {
                        gS[(tt * gLd) + jj] = t < k && j0 + jj < c ? g[gRow + j0 + jj] : op.Zero;
                    }
                }

                Group.Barrier();
                for (var jj = 0; jj < ProductDepth; jj++)
                {
                    var fRow = jj * width;
                    var f0 = fS[fRow + tx];
                    var f1 = fS[fRow + tx + gx];
                    var f2 = fS[fRow + tx + (2 * gx)];
                    var f3 = fS[fRow + tx + (3 * gx)];
                    var g0 = gS[(ty * gLd) + jj];
                    var g1 = gS[((ty + gy) * gLd) + jj];
                    var g2 = gS[((ty + (2 * gy)) * gLd) + jj];
                    var g3 = gS[((ty + (3 * gy)) * gLd) + jj];
                    a00 = op.Add(a00, op.Mul(f0, g0));
                    a01 = op.Add(a01, op.Mul(f0, g1));
                    a02 = op.Add(a02, op.Mul(f0, g2));
                    a03 = op.Add(a03, op.Mul(f0, g3));
                    a10 = op.Add(a10, op.Mul(f1, g0));
                    a11 = op.Add(a11, op.Mul(f1, g1));
                    a12 = op.Add(a12, op.Mul(f1, g2));
                    a13 = op.Add(a13, op.Mul(f1, g3));
                    a20 = op.Add(a20, op.Mul(f2, g0));
                    a21 = op.Add(a21, op.Mul(f2, g1));
                    a22 = op.Add(a22, op.Mul(f2, g2));
                    a23 = op.Add(a23, op.Mul(f2, g3));
                    a30 = op.Add(a30, op.Mul(f3, g0));
                    a31 = op.Add(a31, op.Mul(f3, g1));
                    a32 = op.Add(a32, op.Mul(f3, g2));
                    a33 = op.Add(a33, op.Mul(f3, g3));
                }

                Group.Barrier();
            }

            var tBase = t0 + ty;
            StoreFour(u, stride, off, c, k, i0 + tx, tBase, gy, a00, a01, a02, a03);
            StoreFour(u, stride, off, c, k, i0 + tx + gx, tBase, gy, a10, a11, a12, a13);
            StoreFour(u, stride, off, c, k, i0 + tx + (2 * gx), tBase, gy, a20, a21, a22, a23);
            StoreFour(u, stride, off, c, k, i0 + tx + (3 * gx), tBase, gy, a30, a31, a32, a33);
        }
    }

    // Group per (block b = grid X, tile of 8·DimY rows = grid Y, tile of 4·DimX columns = grid Z): F_b[r, j] −=
    // Σ_t W[off_b + r, t] U[off_b + j, t], i.e. F_b −= W Uᵀ = U S⁻¹ Uᵀ. Thread (x, y) owns rows y + DimY·a (a < 8, in
    // two halves of four) and columns x + DimX·e (e < 4), so a warp's reads and writes of F are contiguous row
    // segments. The tile's W and U rows are staged transposed, t-major, with one element of padding so that neither
    // staging nor reading conflicts on shared-memory banks; the tall tile stages 0.75 W/U elements per F entry.
    public static void RankKApply(ArrayView<T> f, DeviceLayout layout, ArrayView<T> u, ArrayView<T> w, int k, int stride)
    {
        int gx = Group.DimX, gy = Group.DimY, tx = Group.IdxX, ty = Group.IdxY;
        var b = Grid.IdxX;
        var c = layout.Sizes[b];
        var height = ApplyRows * gy;
        var width = 4 * gx;
        var r0 = Grid.IdxY * height;
        var c0 = Grid.IdxZ * width;
        if (r0 >= c || c0 >= c)
        {
            return;
        }

        var off = layout.Offsets[b];
        var wLd = height + 1;
        var uLd = width + 1;
        var shared = SharedMemory.GetDynamic<T>();
        var wS = shared.SubView(0, stride * wLd);
        var uS = shared.SubView(stride * wLd, stride * uLd);
        Stage(w, (long)off + r0, Math.Min(height, c - r0), height, k, stride, wS, wLd);
        Stage(u, (long)off + c0, Math.Min(width, c - c0), width, k, stride, uS, uLd);
        Group.Barrier();
        var square = layout.SquareOffsets[b];
        ApplyFourRows(f, square, c, r0 + ty, c0 + tx, gx, gy, wS, wLd, ty, uS, uLd, tx, k);
        ApplyFourRows(f, square, c, r0 + ty + (4 * gy), c0 + tx, gx, gy, wS, wLd, ty + (4 * gy), uS, uLd, tx, k);
    }

    /// <summary>Rows of F per thread in <see cref="RankKApply"/>: its row tile is ApplyRows · DimY.</summary>
    private const int ApplyRows = 8;

    // dst[t·ld + i] = src[(first + i)·stride + t] for i < rows (zero for valid ≤ i < rows) and t < k: group thread (x, y)
    // takes rows y, y + DimY, … and t = x, x + DimX, …, so a warp reads one contiguous row of U or W.
    private static void Stage(ArrayView<T> src, long first, int valid, int rows, int k, int stride, ArrayView<T> dst, int ld)
    {
        var op = default(TOps);
        for (var i = Group.IdxY; i < rows; i += Group.DimY)
        {
            var row = (first + i) * stride;
            for (var t = Group.IdxX; t < k; t += Group.DimX)
            {
                dst[(t * ld) + i] = i < valid ? src[row + t] : op.Zero;
            }
        }
    }

    // F_b[r + DimY·a, col + DimX·e] −= Σ_t wS[t, wi + DimY·a] uS[t, ui + DimX·e] for a, e < 4: one 4 × 4 part of a
    // thread's share of RankKApply, its sixteen sums in registers.
    private static void ApplyFourRows(ArrayView<T> f, long square, int c, int r, int col, int gx, int gy, ArrayView<T> wS, int wLd, int wi, ArrayView<T> uS, int uLd, int ui, int k)
    {
        var op = default(TOps);
        if (r >= c)
        {
            return;
        }

        T a00 = op.Zero, a01 = op.Zero, a02 = op.Zero, a03 = op.Zero, a10 = op.Zero, a11 = op.Zero, a12 = op.Zero, a13 = op.Zero;
        T a20 = op.Zero, a21 = op.Zero, a22 = op.Zero, a23 = op.Zero, a30 = op.Zero, a31 = op.Zero, a32 = op.Zero, a33 = op.Zero;
        for (var t = 0; t < k; t++)
        {
            var wRow = (t * wLd) + wi;
            var uRow = (t * uLd) + ui;
            var w0 = wS[wRow];
            var w1 = wS[wRow + gy];
            var w2 = wS[wRow + (2 * gy)];
            var w3 = wS[wRow + (3 * gy)];
            var u0 = uS[uRow];
            var u1 = uS[uRow + gx];
            var u2 = uS[uRow + (2 * gx)];
            var u3 = uS[uRow + (3 * gx)];
            a00 = op.Add(a00, op.Mul(w0, u0));
            a01 = op.Add(a01, op.Mul(w0, u1));
            a02 = op.Add(a02, op.Mul(w0, u2));
            a03 = op.Add(a03, op.Mul(w0, u3));
            a10 = op.Add(a10, op.Mul(w1, u0));
            a11 = op.Add(a11, op.Mul(w1, u1));
            a12 = op.Add(a12, op.Mul(w1, u2));
            a13 = op.Add(a13, op.Mul(w1, u3));
            a20 = op.Add(a20, op.Mul(w2, u0));
            a21 = op.Add(a21, op.Mul(w2, u1));
            a22 = op.Add(a22, op.Mul(w2, u2));
            a23 = op.Add(a23, op.Mul(w2, u3));
            a30 = op.Add(a30, op.Mul(w3, u0));
            a31 = op.Add(a31, op.Mul(w3, u1));
            a32 = op.Add(a32, op.Mul(w3, u2));
            a33 = op.Add(a33, op.Mul(w3, u3));
        }

        SubtractFour(f, square, c, r, col, gx, a00, a01, a02, a03);
        SubtractFour(f, square, c, r + gy, col, gx, a10, a11, a12, a13);
        SubtractFour(f, square, c, r + (2 * gy), col, gx, a20, a21, a22, a23);
        SubtractFour(f, square, c, r + (3 * gy), col, gx, a30, a31, a32, a33);
    }

    // U[off + i, t + step·e] = v_e for e < 4, where i < c and the gradient index < k.
    private static void StoreFour(ArrayView<T> u, int stride, int off, int c, int k, int i, int t, int step, T v0, T v1, T v2, T v3)
    {
        if (i >= c)
        {
            return;
        }

        var row = (long)(off + i) * stride;
        if (t < k)
        {
            u[row + t] = v0;
        }

        if (t + step < k)
        {
            u[row + t + step] = v1;
        }

        if (t + (2 * step) < k)
        {
            u[row + t + (2 * step)] = v2;
        }

        if (t + (3 * step) < k)
        {
            u[row + t + (3 * step)] = v3;
        }
    }

    // F_b[r, col + step·e] −= v_e for e < 4, within the c × c block.
    private static void SubtractFour(ArrayView<T> f, long square, int c, int r, int col, int step, T v0, T v1, T v2, T v3)
    {
        var op = default(TOps);
        if (r >= c)
        {
            return;
        }

        var row = square + ((long)r * c);
        if (col < c)
        {
            f[row + col] = op.Sub(f[row + col], v0);
        }

        if (col + step < c)
        {
            f[row + col + step] = op.Sub(f[row + col + step], v1);
        }

        if (col + (2 * step) < c)
        {
            f[row + col + (2 * step)] = op.Sub(f[row + col + (2 * step)], v2);
        }

        if (col + (3 * step) < c)
        {
            f[row + col + (3 * step)] = op.Sub(f[row + col + (3 * step)], v3);
        }
    }
}
