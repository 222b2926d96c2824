using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// A sparse matrix laid out for y = Wx with AVX2 and no memory gathers: rows in slices of <see cref="Lanes"/> (one register of
/// sums), and each slice's entries in steps. A step reads a window of eight consecutive inputs that starts anywhere (its
/// offset is stored with it), permutes it so that each lane gets its row's input (vpermps, one cycle on its own port), and
/// adds one FMA with the step's eight values: each row gives a step at most one entry, the rest is zero padding. The
/// windows slide: a slice's next step starts at the lowest column any of its rows has left, and takes from every row its
/// next entry when that lies in the window, so that fewer lanes are padding than with windows at fixed multiples of eight
/// (on the first layer of a 90%-sparse 784-300-100-10 MLP 2.1 slots per entry against 2.8, rows balanced between slices as
/// <see cref="SliceBalance"/> does). The 8-lane gather this replaces costs several cycles. A step needs no loop control of
/// its own, so a slice's steps run as one loop, bound by its loads (the offset, the window, the values).
/// <para>
/// So that no window's load spans two cache lines, x is copied twice into a 64-byte-aligned scratch, the second copy a
/// half line later, and each step reads the copy in which its window lies inside one line. The offsets into that scratch
/// are 16-bit, four read at once (so at most <see cref="MaxColumns"/> inputs); the lane offsets of four steps share a
/// 32-bit lane, a byte each (vpermps reads only an index's low 3 bits).
/// </para>
/// <para>
/// Steps outside the span of x from its first to its last non-zero input add only zeros, and are skipped: each slice keeps,
/// per window of eight inputs, the first step at or past it (<c>_bounds</c>), so that the span costs two lookups a slice. On
/// Fashion-MNIST images about a seventh of the first layer's steps fall outside it, so the time depends on the input.
/// </para>
/// </summary>
internal sealed unsafe partial class SlidingRows
{
    /// <summary>Rows per slice, inputs per window: one 256-bit register.</summary>
    public const int Lanes = 8;

    /// <summary>Most inputs the layout takes: both copies of x must lie within the reach of a 16-bit offset.</summary>
    public const int MaxColumns = 32_000;

    /// <summary>Padded slots allowed per stored entry: past it the permutes of zeros cost more than the gathers they replace.</summary>
    private const int MaxSlotsPerEntry = 4;

    [ThreadStatic]
    private static PinnedAligned<float>? t_scratch;


    private readonly int _windows;
    private readonly int _secondCopy;
    private readonly int[] _laneOfRow;
    private readonly int[] _bounds;
    private readonly PinnedAligned<ushort> _offsets;
    private readonly PinnedAligned<float> _values;
    private readonly PinnedAligned<int> _lanes;

    private SlidingRows(int columns, int steps, int[] laneOfRow, int[] bounds, Layout layout)
    {
        (Columns, Steps, _windows, _secondCopy) = (columns, steps, Windows(columns), SecondCopy(columns));
        (_laneOfRow, _bounds, _offsets, _values, _lanes) = (laneOfRow, bounds, layout.Offsets, layout.Values, layout.LaneIndices);
    }

    /// <summary>Inputs (x's length).</summary>
    public int Columns { get; }

    /// <summary>Steps one y = Wx runs when no input is skipped (padding included).</summary>
    public int Steps { get; }

    /// <summary>Whether this process can run the layout (AVX2 and FMA).</summary>
    public static bool Supported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>
    /// y = Wx (+ bias when <paramref name="bias"/> is not null, then max(y, 0) when <paramref name="relu"/>); x has
    /// <see cref="Columns"/> entries, y one per row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public void MultiplyVector(float* x, float* y, float* bias, bool relu)
    {
        var (lo, hi) = NonZeroSpan(x, Columns);
        var slices = _bounds.Length / (_windows + 1);
        var length = _secondCopy + Columns + (slices * Lanes);
        if (t_scratch is null || t_scratch.Length < length)
        {
            t_scratch = new PinnedAligned<float>(length);
        }

        var xx = t_scratch.Pointer;
        var sums = xx + _secondCopy + Columns;
        Buffer.MemoryCopy(x, xx, 4L * Columns, 4L * Columns);
        Buffer.MemoryCopy(x, xx + _secondCopy, 4L * Columns, 4L * Columns);

        // Windows [8·wlo, …) start no earlier than lo − 7, and windows from 8·whi on start past hi: the others are all zero.
        var stride = _windows + 1;
        var wlo = lo <= hi ? Math.Max(0, lo - (Lanes - 1)) / Lanes : 0;
        var whi = lo <= hi ? Math.Min(_windows, (hi / Lanes) + 1) : 0;
        var pv = _values.Pointer;
        var po = _offsets.Pointer;
        fixed (int* pb = _bounds)
        {
            for (var s = 0; s < slices; s++)
            {
                // Four sums: an FMA's latency is four cycles, so one chain would leave the permute's port idle. A slice's
                // steps are padded to whole quads with zero steps, so that no partial quad needs a branch.
                Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
                var t = pb[(s * stride) + wlo] & ~3;
                var end = (pb[(s * stride) + whi] + 3) & ~3;
                var pl = _lanes.Pointer + ((nint)(t >> 2) * Lanes);
                for (; t < end; t += 4, pl += Lanes)
                {
                    var idx = Vector256.Load(pl);
                    var o = *(ulong*)(po + t);
                    var v = pv + ((nint)t * Lanes);
                    a0 = Step(v, xx + (ushort)o, idx, a0);
                    a1 = Step(v + Lanes, xx + (ushort)(o >> 16), Vector256.ShiftRightLogical(idx, 8), a1);
                    a2 = Step(v + (2 * Lanes), xx + (ushort)(o >> 32), Vector256.ShiftRightLogical(idx, 16), a2);
                    a3 = Step(v + (3 * Lanes), xx + (o >> 48), Vector256.ShiftRightLogical(idx, 24), a3);
                }

                ((a0 + a1) + (a2 + a3)).Store(sums + (s * Lanes));
            }
        }

        Finish(sums, y, bias, relu);
    }

    /// <summary>y[r] = the sum of row r's lane (+ bias[r]), then max(y, 0) when <paramref name="relu"/>: eight rows per gather.</summary>
    private void Finish(float* sums, float* y, float* bias, bool relu)
    {
        var rows = _laneOfRow.Length;
        fixed (int* pq = _laneOfRow)
        {
            var r = 0;
            for (; r + Lanes <= rows; r += Lanes)
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

    /// <summary>One step: eight values times the window at <paramref name="x"/> permuted by the low 3 bits of each lane of <paramref name="idx"/>, added to <paramref name="a"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Step(float* v, float* x, Vector256<int> idx, Vector256<float> a) =>
        Vector256.FusedMultiplyAdd(Vector256.Load(v), Avx2.PermuteVar8x32(Vector256.Load(x), idx), a);

    /// <summary>The first and last index of a non-zero in x (−0 counts as zero, NaN as non-zero); (n, −1) when there is none.</summary>
    private static (int First, int Last) NonZeroSpan(float* x, int n)
    {
        var first = 0;
        for (; first + Lanes <= n; first += Lanes)
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
        for (; last - Lanes + 1 > first; last -= Lanes)
        {
            var nonZero = ~Vector256.Equals(Vector256.Load(x + last - Lanes + 1), Vector256<float>.Zero).ExtractMostSignificantBits() & 0xFF;
            if (nonZero != 0)
            {
                return (first, last - Lanes + 1 + 31 - BitOperations.LeadingZeroCount(nonZero));
            }
        }

        while (x[last] == 0)
        {
            last--;
        }

        return (first, last);
    }

    /// <summary>Windows of eight inputs, the last one partial.</summary>
    private static int Windows(int columns) => (columns + Lanes - 1) / Lanes;

    /// <summary>Where the second copy of x starts in the scratch: half a cache line (8 floats) past a line boundary.</summary>
    internal static int SecondCopy(int columns) => (((columns + 15) / 16) * 16) + 8;

    /// <summary>
    /// Where the window of x that starts at input <paramref name="offset"/> is read in the scratch: in the first copy when
    /// it lies inside one 64-byte line there (or ends on its boundary), else in the second, half a line later, where it then does.
    /// </summary>
    internal static int ScratchOffset(int offset, int columns) => offset % 16 <= 8 ? offset : SecondCopy(columns) + offset;
}
