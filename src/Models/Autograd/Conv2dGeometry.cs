using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace WoodFisher.Models.Autograd;

/// <summary>
/// The shape of one 2-D convolution over inputs [n, C, H, W] (cross-correlation, PyTorch semantics, zero padding), and
/// its unfold (im2col) and fold. Unfolded columns of a run of images form one matrix U [K, count·L]: row (ci·kh + u)·kw + v
/// (PyTorch's weight layout [out, in, kh, kw] flattened), column i·L + oy·wo + ox for image i of the run, so that
/// W [O, K]·U is the convolution of every image of the run in one product.
/// </summary>
/// <param name="Channels">C.</param>
/// <param name="Height">H.</param>
/// <param name="Width">W.</param>
/// <param name="KernelHeight">kh.</param>
/// <param name="KernelWidth">kw.</param>
/// <param name="Stride">Stride in both directions.</param>
/// <param name="Padding">Zero padding on each side.</param>
public sealed record Conv2dGeometry(int Channels, int Height, int Width, int KernelHeight, int KernelWidth, int Stride, int Padding)
{
    /// <summary>Output height ho.</summary>
    public int OutHeight => OutputSize(Height, KernelHeight, Stride, Padding);

    /// <summary>Output width wo.</summary>
    public int OutWidth => OutputSize(Width, KernelWidth, Stride, Padding);

    /// <summary>K = C·kh·kw, the length of one patch.</summary>
    public int Patch => Channels * KernelHeight * KernelWidth;

    /// <summary>L = ho·wo, the output positions per image and channel.</summary>
    public int Positions => OutHeight * OutWidth;

    /// <summary>C·H·W, the length of one input image.</summary>
    public int InputSize => Channels * Height * Width;

    /// <summary>Output size along one axis: ⌊(size + 2·pad − kernel)/stride⌋ + 1.</summary>
    public static int OutputSize(int size, int kernel, int stride, int pad) => ((size + (2 * pad) - kernel) / stride) + 1;

    /// <summary>
    /// Images per unfolded run: U of one run stays near 64 K elements (in L2 while it is multiplied), and there are at least
    /// as many runs as cores.
    /// </summary>
    public int RunLength(int images)
    {
        var perCore = (images + Environment.ProcessorCount - 1) / Environment.ProcessorCount;
        return Math.Clamp((1 << 16) / Math.Max(1, Patch * Positions), 1, Math.Max(1, perCore));
    }

    /// <summary>cols [K, count·L] = unfold of the <paramref name="count"/> images [count, C, H, W] in <paramref name="x"/>.</summary>
    public unsafe void Unfold<T>(ReadOnlySpan<T> x, int count, Span<T> cols)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x.Length, cols.Length, count);
        fixed (T* px = x, pc = cols)
        {
            Traverse<T, UnfoldOperator<T>>(px, pc, count);
        }
    }

    /// <summary>x += fold(cols), the adjoint of <see cref="Unfold{T}"/>: x [count, C, H, W], cols [K, count·L].</summary>
    public unsafe void FoldAdd<T>(ReadOnlySpan<T> cols, int count, Span<T> x)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x.Length, cols.Length, count);
        fixed (T* px = x, pc = cols)
        {
            Traverse<T, FoldOperator<T>>(px, pc, count);
        }
    }

    private void Check(int xLength, int colsLength, int count)
    {
        if (xLength < (long)count * InputSize || colsLength < (long)count * Patch * Positions)
        {
            throw new ArgumentException($"{count} images need {(long)count * InputSize} input and {(long)count * Patch * Positions} column elements.");
        }
    }

    /// <summary>
    /// Visits every (patch row, image, output row) segment of U with the image row it reads: op.Inside on the part inside the
    /// image (contiguous when the stride is 1), op.Outside on the zero padding.
    /// </summary>
    private unsafe void Traverse<T, TOp>(T* x, T* cols, int count)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TOp : struct, IPatchOperator<T>
    {
        int ho = OutHeight, wo = OutWidth, l = ho * wo, ld = count * l, s = Stride, pad = Padding;
        for (var ci = 0; ci < Channels; ci++)
        {
            for (var u = 0; u < KernelHeight; u++)
            {
                for (var v = 0; v < KernelWidth; v++)
                {
                    var row = cols + ((((ci * KernelHeight) + u) * KernelWidth) + v) * (nint)ld;

                    // Output columns ox ∈ [lo, hi) read ix = ox·s − pad + v inside the image.
                    var first = pad - v;
                    var last = Width + pad - v - 1;
                    var lo = first <= 0 ? 0 : Math.Min(wo, (first + s - 1) / s);
                    var hi = last < 0 ? lo : Math.Clamp((last / s) + 1, lo, wo);
                    for (var i = 0; i < count; i++)
                    {
                        var image = x + ((nint)i * InputSize) + ((nint)ci * Height * Width);
                        for (var oy = 0; oy < ho; oy++)
                        {
                            var dst = row + ((nint)i * l) + (oy * wo);
                            var iy = (oy * s) - pad + u;
                            if ((uint)iy >= (uint)Height)
                            {
                                TOp.Outside(dst, wo);
                                continue;
                            }

                            TOp.Outside(dst, lo);
                            TOp.Inside(image + (iy * Width) + (lo * s) - pad + v, s, dst + lo, hi - lo);
                            TOp.Outside(dst + hi, wo - hi);
                        }
                    }
                }
            }
        }
    }

    private unsafe interface IPatchOperator<T>
        where T : unmanaged
    {
        /// <summary>The column segment col[0:n] reads image[0], image[s], …, image[(n−1)·s].</summary>
        static abstract void Inside(T* image, int s, T* col, int n);

        /// <summary>The column segment col[0:n] lies in the zero padding.</summary>
        static abstract void Outside(T* col, int n);
    }

    private readonly unsafe struct UnfoldOperator<T> : IPatchOperator<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Inside(T* image, int s, T* col, int n)
        {
            if (s == 1)
            {
                new ReadOnlySpan<T>(image, n).CopyTo(new Span<T>(col, n));
                return;
            }

            for (var j = 0; j < n; j++)
            {
                col[j] = image[j * s];
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Outside(T* col, int n) => new Span<T>(col, n).Clear();
    }

    private readonly unsafe struct FoldOperator<T> : IPatchOperator<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Inside(T* image, int s, T* col, int n)
        {
            if (s == 1)
            {
                var seg = new Span<T>(image, n);
                TensorPrimitives.Add(seg, new ReadOnlySpan<T>(col, n), seg);
                return;
            }

            for (var j = 0; j < n; j++)
            {
                image[j * s] += col[j];
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Outside(T* col, int n)
        {
        }
    }
}
