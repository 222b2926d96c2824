using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// A sparse matrix laid out for y = Wx without memory gathers: rows in slices of <see cref="SliceRows"/> (one 512-bit
/// register of sums with AVX-512, two 256-bit ones with AVX2), and each slice's entries in steps. A step reads a window of
/// consecutive inputs (16 with AVX-512, 8 with AVX2: one register) starting where the step says, permutes it so that each
/// row's lane gets its input (vpermps, one cycle on its own port; with AVX2 one permute per half, both from the one load),
/// and adds one FMA per register with the step's values: each row gives a step at most one entry, the rest is zero
/// padding. The windows slide: a slice's next step starts at the lowest column any of its rows has left, and takes from
/// every row its next entry when that lies in the window, so that fewer lanes are padding than with windows at fixed
/// places. A gather costs several cycles per 8 entries; a step needs no loop control of its own, so a slice's steps run as
/// one loop, bound by its loads (the offset, the window, the values) and the permutes. With AVX2 a slice of 16 rows pads
/// more than one of 8 (2.5 slots per entry against 2.1 on the first layer of a 90%-sparse 784-300-100-10 MLP) but loads
/// each window for twice the rows, which took its product from 3.45 to 3.0 µs.
/// <para>
/// So that no window's load spans two cache lines, x is copied twice into a 64-byte-aligned scratch, the second copy half a
/// line later, and each step reads the copy in which its window lies inside one line: any start for windows of 8, multiples
/// of 8 for windows of 16 (a 16-float window fills a line). The offsets into that scratch are 16-bit, four read at once (so
/// at most <see cref="MaxColumns"/> inputs); the lane offsets of eight steps share a 32-bit lane, four bits each (vpermps
/// reads only an index's low 3 or 4 bits). Bytes count: a step with windows of 8 streams its 64 bytes of values and 8 of
/// lane offsets from L2, and byte-sized lane offsets (16 bytes a step) make the first layer above 6% slower.
/// </para>
/// <para>
/// Steps outside the span of x from its first to its last non-zero input add only zeros, and are skipped: each slice keeps,
/// per 8 inputs, the first step at or past them (<c>_bounds</c>), so that the span costs two lookups a slice. On
/// Fashion-MNIST images about a seventh of the first layer's steps fall outside it, so the time depends on the input.
/// </para>
/// </summary>
internal sealed unsafe partial class SlidingRows
{
    /// <summary>Rows per slice: 16 lanes of sums.</summary>
    public const int SliceRows = 16;

    /// <summary>Most inputs the layout takes: both copies of x must lie within the reach of a 16-bit offset.</summary>
    public const int MaxColumns = 32_000;

    /// <summary>
    /// A step with windows of 16 in <see cref="WindowedRows"/> steps: it loads its window, about 0.8 ns against a windowed
    /// step's 0.65 on a Sapphire Rapids core.
    /// </summary>
    public const double WideStepCost = 1.25;

    /// <summary>Inputs per window of the skipping bounds.</summary>
    private const int BoundWindow = 8;

    [ThreadStatic]
    private static PinnedAligned<float>? t_scratch;

    private readonly int _span;
    private readonly int _secondCopy;
    private readonly int[] _laneOfRow;
    private readonly int[] _bounds;
    private readonly PinnedAligned<ushort> _offsets;
    private readonly PinnedAligned<float> _values;
    private readonly PinnedAligned<int> _lanes;

    private SlidingRows(int window, int columns, int steps, int[] laneOfRow, int[] bounds, Layout layout)
    {
        (Window, Columns, Steps, _span, _secondCopy) = (window, columns, steps, Span(window, columns), SecondCopy(window, columns));
        (_laneOfRow, _bounds, _offsets, _values, _lanes) = (laneOfRow, bounds, layout.Offsets, layout.Values, layout.LaneIndices);
    }

    /// <summary>Inputs per window: 8 (AVX2) or 16 (AVX-512).</summary>
    public int Window { get; }

    /// <summary>Inputs (x's length).</summary>
    public int Columns { get; }

    /// <summary>Steps one y = Wx runs when no input is skipped (padding included).</summary>
    public int Steps { get; }

    /// <summary>Whether this process can run the layout with windows of <paramref name="window"/> inputs: 8 with AVX2 and FMA, 16 with AVX-512F.</summary>
    public static bool Supported(int window) => window switch
    {
        8 => Avx2.IsSupported && Fma.IsSupported,
        16 => Avx512F.IsSupported && Avx2.IsSupported && SimdPaths.Detected == SimdPath.Avx512,
        _ => false,
    };

    /// <summary>
    /// y = Wx (+ bias when <paramref name="bias"/> is not null, then max(y, 0) when <paramref name="relu"/>); x has
    /// <see cref="Columns"/> entries, y one per row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void MultiplyVector(float* x, float* y, float* bias, bool relu)
    {
        var (lo, hi) = NonZeroSpan(x, Columns);
        var slices = _bounds.Length / (Windows(_span) + 1);
        var length = _secondCopy + _span + (slices * SliceRows);
        if (t_scratch is null || t_scratch.Length < length)
        {
            t_scratch = new PinnedAligned<float>(length);
        }

        var xx = t_scratch.Pointer;
        var sums = xx + _secondCopy + _span;
        Copy(x, xx);
        Copy(x, xx + _secondCopy);

        // Windows from 8·wlo on start no earlier than lo − (window − 1), and those from 8·whi on start past hi: the others
        // would read zeros only.
        var wlo = lo <= hi ? Math.Max(0, lo - (Window - 1)) / BoundWindow : 0;
        var whi = lo <= hi ? Math.Min(Windows(_span), (hi / BoundWindow) + 1) : 0;
        if (Window == 16)
        {
            Multiply512(xx, sums, slices, wlo, whi);
        }
        else
        {
            Multiply256(xx, sums, slices, wlo, whi);
        }

        Finish(sums, y, bias, relu);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private void Multiply256(float* xx, float* sums, int slices, int wlo, int whi)
    {
        const int half = SliceRows / 2;
        var stride = Windows(_span) + 1;
        var pv = _values.Pointer;
        var po = _offsets.Pointer;
        fixed (int* pb = _bounds)
        {
            for (var s = 0; s < slices; s++)
            {
                // Four sums per half: an FMA's latency is four cycles, so one chain would leave the permute's port idle. A
                // slice's steps are padded to whole octets with zero steps, so that no partial octet needs a branch.
                Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
                var t = pb[(s * stride) + wlo] & ~7;
                var end = (pb[(s * stride) + whi] + 7) & ~7;
                var pl = _lanes.Pointer + ((nint)(t >> 3) * SliceRows);
                for (; t < end; t += 8, pl += SliceRows)
                {
                    var lo = Vector256.Load(pl);
                    var hi = Vector256.Load(pl + half);
                    var o = *(ulong*)(po + t);
                    var v = pv + ((nint)t * SliceRows);
                    Step(v, xx + (ushort)o, lo, hi, ref a0, ref b0);
                    Step(v + SliceRows, xx + (ushort)(o >> 16), Vector256.ShiftRightLogical(lo, 4), Vector256.ShiftRightLogical(hi, 4), ref a1, ref b1);
                    Step(v + (2 * SliceRows), xx + (ushort)(o >> 32), Vector256.ShiftRightLogical(lo, 8), Vector256.ShiftRightLogical(hi, 8), ref a2, ref b2);
                    Step(v + (3 * SliceRows), xx + (o >> 48), Vector256.ShiftRightLogical(lo, 12), Vector256.ShiftRightLogical(hi, 12), ref a3, ref b3);
                    o = *(ulong*)(po + t + 4);
                    v += 4 * SliceRows;
                    Step(v, xx + (ushort)o, Vector256.ShiftRightLogical(lo, 16), Vector256.ShiftRightLogical(hi, 16), ref a0, ref b0);
                    Step(v + SliceRows, xx + (ushort)(o >> 16), Vector256.ShiftRightLogical(lo, 20), Vector256.ShiftRightLogical(hi, 20), ref a1, ref b1);
                    Step(v + (2 * SliceRows), xx + (ushort)(o >> 32), Vector256.ShiftRightLogical(lo, 24), Vector256.ShiftRightLogical(hi, 24), ref a2, ref b2);
                    Step(v + (3 * SliceRows), xx + (o >> 48), Vector256.ShiftRightLogical(lo, 28), Vector256.ShiftRightLogical(hi, 28), ref a3, ref b3);
                }

                ((a0 + a1) + (a2 + a3)).Store(sums + (s * SliceRows));
                ((b0 + b1) + (b2 + b3)).Store(sums + (s * SliceRows) + half);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private void Multiply512(float* xx, float* sums, int slices, int wlo, int whi)
    {
        const int lanes = SliceRows;
        var stride = Windows(_span) + 1;
        var pv = _values.Pointer;
        var po = _offsets.Pointer;
        fixed (int* pb = _bounds)
        {
            for (var s = 0; s < slices; s++)
            {
                Vector512<float> a0 = Vector512<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
                var t = pb[(s * stride) + wlo] & ~7;
                var end = (pb[(s * stride) + whi] + 7) & ~7;
                var pl = _lanes.Pointer + ((nint)(t >> 3) * lanes);
                for (; t < end; t += 8, pl += lanes)
                {
                    var idx = Vector512.Load(pl);
                    var o = *(ulong*)(po + t);
                    var v = pv + ((nint)t * lanes);
                    a0 = Step(v, xx + (ushort)o, idx, a0);
                    a1 = Step(v + lanes, xx + (ushort)(o >> 16), Vector512.ShiftRightLogical(idx, 4), a1);
                    a2 = Step(v + (2 * lanes), xx + (ushort)(o >> 32), Vector512.ShiftRightLogical(idx, 8), a2);
                    a3 = Step(v + (3 * lanes), xx + (o >> 48), Vector512.ShiftRightLogical(idx, 12), a3);
                    o = *(ulong*)(po + t + 4);
                    v += 4 * lanes;
                    a0 = Step(v, xx + (ushort)o, Vector512.ShiftRightLogical(idx, 16), a0);
                    a1 = Step(v + lanes, xx + (ushort)(o >> 16), Vector512.ShiftRightLogical(idx, 20), a1);
                    a2 = Step(v + (2 * lanes), xx + (ushort)(o >> 32), Vector512.ShiftRightLogical(idx, 24), a2);
                    a3 = Step(v + (3 * lanes), xx + (o >> 48), Vector512.ShiftRightLogical(idx, 28), a3);
                }

                ((a0 + a1) + (a2 + a3)).Store(sums + (s * lanes));
            }
        }
    }

    /// <summary>x into a copy in the scratch, zeros after it up to the span.</summary>
    private void Copy(float* x, float* copy)
    {
        Buffer.MemoryCopy(x, copy, 4L * Columns, 4L * Columns);
        new Span<float>(copy + Columns, _span - Columns).Clear();
    }

    /// <summary>One step of two 8-lane halves: the window of 8 at <paramref name="x"/>, loaded once, permuted by the low 3 bits of each lane of <paramref name="lo"/> and of <paramref name="hi"/>, times the values, added to <paramref name="a"/> and <paramref name="b"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step(float* v, float* x, Vector256<int> lo, Vector256<int> hi, ref Vector256<float> a, ref Vector256<float> b)
    {
        var window = Vector256.Load(x);
        a = Vector256.FusedMultiplyAdd(Vector256.Load(v), Avx2.PermuteVar8x32(window, lo), a);
        b = Vector256.FusedMultiplyAdd(Vector256.Load(v + (SliceRows / 2)), Avx2.PermuteVar8x32(window, hi), b);
    }

    /// <summary>One step of 16 lanes: the values times the window of 16 at <paramref name="x"/> permuted by the low 4 bits of each lane of <paramref name="idx"/>, added to <paramref name="a"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Step(float* v, float* x, Vector512<int> idx, Vector512<float> a) =>
        Vector512.FusedMultiplyAdd(Vector512.Load(v), Avx512F.PermuteVar16x32(Vector512.Load(x), idx), a);

    /// <summary>y[r] = the sum of row r's lane (+ bias[r]), then max(y, 0) when <paramref name="relu"/>: eight rows per gather.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Finish(float* sums, float* y, float* bias, bool relu)
    {
        var rows = _laneOfRow.Length;
        fixed (int* pq = _laneOfRow)
        {
            var r = 0;
            for (; r + 8 <= rows; r += 8)
            {
                var v = Avx2.GatherVector256(sums, Vector256.Load(pq + r), 4);
                v = bias == null ? v : v + Vector256.Load(bias + r);
                (relu ? Vector256.Max(v, Vector256<float>.Zero) : v).Store(y + r);
            }

            for (; r < rows; r++)
            {
                var v = sums[pq[r]] + (bias == null ? 0f : bias[r]);
                y[r] = relu ? MathF.Max(v, 0f) : v;
            }
        }
    }

    /// <summary>The first and last index of a non-zero in x (−0 counts as zero, NaN as non-zero); (n, −1) when there is none.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (int First, int Last) NonZeroSpan(float* x, int n)
    {
        var first = 0;
        for (; first + 8 <= n; first += 8)
        {
            var nonZero = ~Vector256.Equals(Vector256.Load(x + first), Vector256<float>.Zero).ExtractMostSignificantBits() & 0xFF;
            if (nonZero != 0)
            {
                first += BitOperations.TrailingZeroCount(nonZero);
                break;
            }
        }

        while (first < n && x[first] == 0)
        {
            first++;
        }

        if (first == n)
        {
            return (n, -1);
        }

        var last = n - 1;
        for (; last - 7 > first; last -= 8)
        {
            var nonZero = ~Vector256.Equals(Vector256.Load(x + last - 7), Vector256<float>.Zero).ExtractMostSignificantBits() & 0xFF;
            if (nonZero != 0)
            {
                return (first, last - 7 + 31 - BitOperations.LeadingZeroCount(nonZero));
            }
        }

        while (x[last] == 0)
        {
            last--;
        }

        return (first, last);
    }

    /// <summary>Windows of <see cref="BoundWindow"/> inputs over <paramref name="span"/> inputs, the last one partial.</summary>
    private static int Windows(int span) => (span + BoundWindow - 1) / BoundWindow;

    /// <summary>Where a window may start: anywhere for windows of 8; for 16, at multiples of 8, the starts that one of the two copies holds inside a line.</summary>
    internal static int Granularity(int window) => window == 16 ? 8 : 1;

    /// <summary>Inputs a copy of x holds: the columns, then zeros so that the last window's start is a multiple of the granularity.</summary>
    internal static int Span(int window, int columns)
    {
        var g = Granularity(window);
        return window + ((Math.Max(columns, window) - window + g - 1) / g * g);
    }

    /// <summary>Where the second copy of x starts in the scratch: half a cache line (8 floats) past a line boundary.</summary>
    internal static int SecondCopy(int window, int columns) => ((Span(window, columns) + 15) / 16 * 16) + 8;

    /// <summary>
    /// Where the window of x that starts at input <paramref name="offset"/> is read in the scratch: in the first copy when
    /// it lies inside one 64-byte line there, else in the second, half a line later, where it then does.
    /// </summary>
    internal static int ScratchOffset(int offset, int window, int columns) => (offset % 16) + window <= 16 ? offset : SecondCopy(window, columns) + offset;
}
