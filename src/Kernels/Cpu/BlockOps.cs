using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace WoodFisher.Kernels.Cpu;

/// <summary>
/// The CPU backend's block-wise operations other than the updates: identity, upload, download, diagonal, the
/// block-diagonal product and the column gather of the joint OBS update; written once for float and double.
/// </summary>
internal static class BlockOps<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static void SetScaledIdentity(CpuBlockStorage<T> s, double value)
    {
        var v = T.CreateTruncating(value);
        var blocks = s.BlocksToOverwrite();
        BlockParallel.For(s.Layout.Count, b =>
        {
            var blk = blocks[b];
            var c = s.Layout.Size(b);
            Array.Clear(blk);
            for (var i = 0; i < c; i++)
            {
                blk[(i * c) + i] = v;
            }

            s.ScaledIdentity[b] = v;
        });
    }

    public static void Write(CpuBlockStorage<T> s, ReadOnlySpan<double> src)
    {
        s.ForgetIdentity();
        for (var b = 0; b < s.Layout.Count; b++)
        {
            var blk = s.Blocks[b];
            TensorPrimitives.ConvertTruncating<double, T>(src.Slice((int)s.Layout.SquareOffset(b), blk.Length), blk);
        }
    }

    public static void Read(CpuBlockStorage<T> s, Span<double> dst)
    {
        for (var b = 0; b < s.Layout.Count; b++)
        {
            var blk = s.Blocks[b];
            TensorPrimitives.ConvertTruncating<T, double>(blk, dst.Slice((int)s.Layout.SquareOffset(b), blk.Length));
        }
    }

    public static void Diagonal(CpuBlockStorage<T> s, Span<double> diagonal)
    {
        for (var b = 0; b < s.Layout.Count; b++)
        {
            var c = s.Layout.Size(b);
            var off = s.Layout.Offset(b);
            var blk = s.Blocks[b];
            for (var i = 0; i < c; i++)
            {
                diagonal[off + i] = double.CreateTruncating(blk[(i * c) + i]);
            }
        }
    }

    /// <summary>Throws when a diagonal entry of block <paramref name="b"/> (c × c) is not positive and finite.</summary>
    public static void RequirePositiveDiagonal(T[] f, int c, int b, string after)
    {
        for (var i = 0; i < c; i++)
        {
            var dii = f[(i * c) + i];
            if (!(dii > T.Zero) || !T.IsFinite(dii))
            {
                throw new BlockNotPositiveDefiniteException(b, $"diagonal entry {i} of F⁻¹ is {dii} after {after}");
            }
        }
    }

    /// <summary>Converts a span of <paramref name="src"/> rows (float32 or float64) into the storage type.</summary>
    public static void LoadRow<TSrc>(ReadOnlySpan<TSrc> src, BlockLayout layout, int block, long row, Span<T> dst)
        where TSrc : unmanaged, IFloatingPointIeee754<TSrc>
        => TensorPrimitives.ConvertTruncating<TSrc, T>(src.Slice((int)((row * layout.Dimension) + layout.Offset(block)), dst.Length), dst);

    public static void Multiply(CpuBlockStorage<T> s, double[] v, double[] result, int count)
    {
        var layout = s.Layout;
        BlockParallel.For(layout.Count, b =>
        {
            var c = layout.Size(b);
            var f = s.Blocks[b];
            var vt = new T[count * c];
            for (var r = 0; r < count; r++)
            {
                LoadRow<double>(v, layout, b, r, vt.AsSpan(r * c, c));
            }

            var rt = new T[count * c];
            if (count >= 4)
            {
                // R = V F (F symmetric, so each row of R is F v)
                Gemm.Multiply(count, c, c, T.One, StridedMatrix<T>.RowMajor(vt, 0, c), StridedMatrix<T>.RowMajor(f, 0, c), rt, 0, c);
            }
            else
            {
                for (var r = 0; r < count; r++)
                {
                    var vr = vt.AsSpan(r * c, c);
                    for (var i = 0; i < c; i++)
                    {
                        rt[(r * c) + i] = SimdOps.Dot<T>(f.AsSpan(i * c, c), vr);
                    }
                }
            }

            for (var r = 0; r < count; r++)
            {
                TensorPrimitives.ConvertTruncating<T, double>(rt.AsSpan(r * c, c), result.AsSpan((int)(((long)r * layout.Dimension) + layout.Offset(b)), c));
            }
        });
    }

    /// <summary>[F⁻¹]_{b, Q_b} widened to float64, row i of the c × q result read from row i of the block.</summary>
    /// <remarks>The per-block body is compiled optimised from its first call, as the joint update's solve and step are.</remarks>
    public static void GatherColumns(CpuBlockStorage<T> s, JointObsPlan plan, int first, int last, double[] columns)
    {
        var c0 = plan.ColumnStart(first);
        BlockParallel.For(last - first, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (i) =>
        {
            var b = first + i;
            var q = plan.Local(b);
            var c = s.Layout.Size(b);
            var f = s.Blocks[b];
            var dst = columns.AsSpan((int)(plan.ColumnStart(b) - c0), c * q.Length);
            for (var r = 0; r < c; r++)
            {
                var row = f.AsSpan(r * c, c);
                var to = dst.Slice(r * q.Length, q.Length);
                for (var j = 0; j < q.Length; j++)
                {
                    to[j] = double.CreateTruncating(row[q[j]]);
                }
            }
        });
    }
}
