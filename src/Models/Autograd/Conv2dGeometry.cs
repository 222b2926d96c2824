using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using WoodFisher.Kernels;

namespace WoodFisher.Models.Autograd;

/// <summary>
/// The shape of one 2-D convolution over inputs [n, C, H, W] (cross-correlation, PyTorch semantics, zero padding), and the
/// layout that turns it into products with <see cref="RowWindows{T}"/>. A run of images is padded into planes of
/// Hp × Wp = (H + 2·pad) × (W + 2·pad), channel-major ([C, run, Hp·Wp]); on that grid, kernel tap (c, u, v) of the output
/// at grid position q reads the padded input at c·run·Hp·Wp + u·Wp + v + q, so the unfolded patches are K = C·kh·kw
/// windows of one buffer (one offset per tap, in PyTorch's weight order) and the convolution of the whole run is
/// W [O, K] times those windows. Outputs are computed at every grid position q = i·Hp·Wp + y·Wp + x and kept where
/// (y, x) = (oy·stride, ox·stride) with oy &lt; ho, ox &lt; wo.
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

    /// <summary>Padded width Wp = W + 2·pad, the grid's row length.</summary>
    public int GridWidth => Width + (2 * Padding);

    /// <summary>Hp·Wp, one padded plane.</summary>
    public int Plane => (Height + (2 * Padding)) * GridWidth;

    /// <summary>Output size along one axis: ⌊(size + 2·pad − kernel)/stride⌋ + 1.</summary>
    public static int OutputSize(int size, int kernel, int stride, int pad) => ((size + (2 * pad) - kernel) / stride) + 1;

    /// <summary>
    /// Images per run: the run's padded input and output grid stay near 64 K elements, and the runs split evenly over the
    /// cores (each core gets the same number of runs, of nearly the same length).
    /// </summary>
    public int RunLength(int images, int outChannels)
    {
        var perCore = Math.Max(1, (images + Environment.ProcessorCount - 1) / Environment.ProcessorCount);
        var target = Math.Clamp((1 << 16) / Math.Max(1, (Channels + outChannels) * Plane), 1, perCore);
        var runsPerCore = (perCore + target - 1) / target;
        return (perCore + runsPerCore - 1) / runsPerCore;
    }

    /// <summary>
    /// Grid positions N computed for a run of <paramref name="count"/> images: whole planes, the last one up to its last
    /// output row.
    /// </summary>
    public int GridLength(int count) => ((count - 1) * Plane) + ((((OutHeight - 1) * Stride) + 1) * GridWidth);

    /// <summary>Length of the padded input of a run: C·count·Hp·Wp plus the tail the last windows reach into.</summary>
    public int PaddedLength(int count) => (Channels * count * Plane) + KernelWidth;

    /// <summary>The K window offsets of the taps (c, u, v) into the padded input of a run of <paramref name="count"/> images.</summary>
    public int[] TapOffsets(int count)
    {
        var r = new int[Patch];
        for (var c = 0; c < Channels; c++)
            for (var u = 0; u < KernelHeight; u++)
                for (var v = 0; v < KernelWidth; v++)
                    r[(((c * KernelHeight) + u) * KernelWidth) + v] = (c * count * Plane) + (u * GridWidth) + v;
        return r;
    }

    /// <summary>
    /// Zeros before each row of the output-gradient grid (<see cref="ToGrid{T}"/> with this lead) that the transposed
    /// convolution reads: the farthest a tap reaches back.
    /// </summary>
    public int GradientLead => ((KernelHeight - 1) * GridWidth) + KernelWidth - 1;

    /// <summary>Row length of the output-gradient grid for a run: the lead, then one value per padded-input position.</summary>
    public int GradientRowLength(int count) => GradientLead + (count * Plane);

    /// <summary>
    /// The O·kh·kw window offsets, tap (o, u, v), into the output-gradient grid [O, <see cref="GradientRowLength"/>] (lead
    /// <see cref="GradientLead"/>): the padded-input gradient of channel c
    /// is Σ_{o,u,v} W[o, c, u, v]·window(o, u, v), the transposed convolution as one product.
    /// </summary>
    public int[] TransposedTapOffsets(int outChannels, int count)
    {
        var r = new int[outChannels * KernelHeight * KernelWidth];
        var row = GradientRowLength(count);
        for (var o = 0; o < outChannels; o++)
            for (var u = 0; u < KernelHeight; u++)
                for (var v = 0; v < KernelWidth; v++)
                    r[(((o * KernelHeight) + u) * KernelWidth) + v] = (o * row) + GradientLead - (u * GridWidth) - v;
        return r;
    }

    /// <summary>xp [C, count, Hp·Wp] (+ zero tail) = the <paramref name="count"/> images x [count, C, H, W], zero-padded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Pad<T>(ReadOnlySpan<T> x, int count, Span<T> xp)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int wp = GridWidth, plane = Plane, pad = Padding;
        xp[..PaddedLength(count)].Clear();
        for (var c = 0; c < Channels; c++)
            for (var i = 0; i < count; i++)
            {
                var dst = xp.Slice(((c * count) + i) * plane, plane);
                var src = x.Slice(((i * Channels) + c) * Height * Width, Height * Width);
                for (var y = 0; y < Height; y++)
                    src.Slice(y * Width, Width).CopyTo(dst.Slice(((y + pad) * wp) + pad, Width));
            }
    }

    /// <summary>gx [count, C, H, W] += the interior of the padded-input gradient gp [C, count, Hp·Wp].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AddInterior<T>(ReadOnlySpan<T> gp, int count, Span<T> gx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int wp = GridWidth, plane = Plane, pad = Padding;
        for (var c = 0; c < Channels; c++)
            for (var i = 0; i < count; i++)
            {
                var src = gp.Slice(((c * count) + i) * plane, plane);
                var dst = gx.Slice(((i * Channels) + c) * Height * Width, Height * Width);
                for (var y = 0; y < Height; y++)
                {
                    var d = dst.Slice(y * Width, Width);
                    TensorPrimitives.Add(d, src.Slice(((y + pad) * wp) + pad, Width), d);
                }
            }
    }

    /// <summary>y [count, O, ho, wo] = the kept positions of the grid rows z [O, ldz] (+ b[o] when b is not empty).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void FromGrid<T>(ReadOnlySpan<T> z, int ldz, ReadOnlySpan<T> b, int outChannels, int count, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int ho = OutHeight, wo = OutWidth, s = Stride, wp = GridWidth, plane = Plane;
        for (var i = 0; i < count; i++)
            for (var o = 0; o < outChannels; o++)
            {
                var bias = b.IsEmpty ? T.Zero : b[o];
                var row = z.Slice((o * ldz) + (i * plane));
                var dst = y.Slice(((i * outChannels) + o) * ho * wo, ho * wo);
                for (var oy = 0; oy < ho; oy++)
                {
                    var src = row.Slice(oy * s * wp);
                    var d = dst.Slice(oy * wo, wo);
                    if (s == 1)
                    {
                        TensorPrimitives.Add(src[..wo], bias, d);
                        continue;
                    }
                    for (var ox = 0; ox < wo; ox++)
                        d[ox] = src[ox * s] + bias;
                }
            }
    }

    /// <summary>
    /// The inverse of <see cref="FromGrid{T}"/> for gradients: rows z [O, ldz] at column <paramref name="lead"/> onwards get
    /// g [count, O, ho, wo] at the kept positions and zeros elsewhere (the whole row, lead and tail included, is written).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ToGrid<T>(ReadOnlySpan<T> g, int outChannels, int count, Span<T> z, int ldz, int lead)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int ho = OutHeight, wo = OutWidth, s = Stride, wp = GridWidth, plane = Plane;
        for (var o = 0; o < outChannels; o++)
        {
            var row = z.Slice(o * ldz, ldz);
            row.Clear();
            for (var i = 0; i < count; i++)
            {
                var src = g.Slice(((i * outChannels) + o) * ho * wo, ho * wo);
                var dst = row.Slice(lead + (i * plane));
                for (var oy = 0; oy < ho; oy++)
                {
                    var d = dst.Slice(oy * s * wp);
                    if (s == 1)
                    {
                        src.Slice(oy * wo, wo).CopyTo(d);
                        continue;
                    }
                    for (var ox = 0; ox < wo; ox++)
                        d[ox * s] = src[(oy * wo) + ox];
                }
            }
        }
    }

    /// <summary>
    /// cols [K, count·L] = the unfolded patches (im2col) of the <paramref name="count"/> images x [count, C, H, W]: row
    /// (c·kh + u)·kw + v, column i·L + oy·wo + ox.
    /// </summary>
    public void Unfold<T>(ReadOnlySpan<T> x, int count, Span<T> cols)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xp = new T[PaddedLength(count)];
        Pad(x, count, xp);
        var taps = TapOffsets(count);
        var ld = count * Positions;
        for (var p = 0; p < Patch; p++)
            FromGrid<T>(xp.AsSpan(taps[p]), count * Plane, [], 1, count, cols.Slice(p * ld, ld));
    }
}
