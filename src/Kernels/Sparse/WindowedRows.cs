using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// A sparse matrix laid out for y = Wx with AVX-512 and no memory gathers: rows in slices of one or two registers of
/// <see cref="Lanes"/> (sorted by entry count, then rows swapped between slices where that removes steps), inputs in
/// windows of <see cref="Window"/>. For each slice and window with entries (a run), K steps: step k holds each row's k-th
/// entry in the window (value, and column inside the window as a byte) or a zero, K the most entries any of the slice's rows
/// has there. A step is one two-register permute of the window of x per register of rows (vpermt2ps, a gather from
/// registers, one cycle) and one FMA into one of four registers of the slice's sums; the 8-lane memory gather it replaces
/// costs several cycles. The offsets of four steps share a 32-bit lane, a byte each: vpermt2ps reads only an index's low 5
/// bits, so steps 2–4 take a shift (another port) where a byte-to-lane widening would queue on the permute's port. Slices
/// of 32 rows pay more padding (K is a maximum over more rows) but half the runs, each of which costs about
/// <see cref="RunCost"/> steps of loop control; <see cref="TryBuild"/> lays the matrix out both ways and keeps the cheaper.
/// Zero padding makes the layout pay only while the steps hold a fair share of entries. A window whose 32 inputs are all
/// zero is skipped, so the time depends on the input: on Fashion-MNIST images about an eighth of the first layer's steps
/// fall in blank windows.
/// </summary>
internal sealed unsafe class WindowedRows
{
    /// <summary>Rows per register of sums (one 512-bit register).</summary>
    public const int Lanes = 16;

    /// <summary>Inputs per window (two 512-bit registers of x).</summary>
    public const int Window = 32;

    /// <summary>Padded slots allowed per stored entry: past it the permutes of zeros cost more than the gathers they replace.</summary>
    private const int MaxSlotsPerEntry = 4;

    /// <summary>
    /// A run's loop control (loading its window of x, testing it for zeros, the branches of its step count) in steps of 16
    /// lanes: fitted to the first two layers of a 90%-sparse 784-300-100-10 MLP, whose runs take about 1.8 ns and steps
    /// about 0.65 ns on a Sapphire Rapids core.
    /// </summary>
    public const int RunCost = 3;

    private readonly int _rows;
    private readonly int _columns;
    private readonly int _sliceRows;
    private readonly int[] _rowOfLane;
    private readonly int[] _slicePointers;
    private readonly int[] _windowOfRun;
    private readonly int[] _stepsOfRun;
    private readonly PinnedAligned<float> _values;
    private readonly PinnedAligned<byte> _offsets;

    private WindowedRows(int rows, int columns, int sliceRows, int[] rowOfLane, int[] slicePointers, int[] windowOfRun, int[] stepsOfRun, PinnedAligned<float> values, PinnedAligned<byte> offsets)
    {
        (_rows, _columns, _sliceRows, _rowOfLane, _slicePointers) = (rows, columns, sliceRows, rowOfLane, slicePointers);
        (_windowOfRun, _stepsOfRun, _values, _offsets) = (windowOfRun, stepsOfRun, values, offsets);
    }

    /// <summary>The slice width as a type, so that each width's kernel is compiled on its own: <c>Two</c> for slices of 32 rows (two registers of sums).</summary>
    private interface ISliceWidth
    {
        static abstract bool Two { get; }
    }

    /// <summary>Steps of 16 lanes (padding included) that one y = Wx runs: a step of a 32-row slice counts twice.</summary>
    public int Steps => _values.Length / Lanes;

    /// <summary>Rows per slice: 16 or 32.</summary>
    public int SliceRows => _sliceRows;

    /// <summary>Slice-window pairs with steps.</summary>
    public int Runs => _windowOfRun.Length;

    /// <summary>Expected time of one y = Wx in steps of 16 lanes: the steps, and <see cref="RunCost"/> per run.</summary>
    public long Cost => Steps + (RunCost * (long)Runs);

    /// <summary>Whether this process can run the layout (AVX-512F).</summary>
    public static bool Supported => Avx512F.IsSupported && SimdPaths.Detected == SimdPath.Avx512;

    /// <summary>
    /// The layout of rows given as runs of (value, column) entries (any order within a row; exact zeros are left out), or
    /// null when its padding would exceed <see cref="MaxSlotsPerEntry"/> slots per entry. Slices of 16 and of 32 rows are
    /// both planned and the cheaper kept, unless <paramref name="sliceRows"/> (16 or 32) names one.
    /// </summary>
    public static WindowedRows? TryBuild(int rows, int columns, float[] values, int[] cols, int[] rowPointers, int sliceRows = 0)
    {
        long nnz = 0;
        for (var e = rowPointers[0]; e < rowPointers[rows]; e++)
        {
            nnz += values[e] != 0 ? 1 : 0;
        }

        var plan = WindowedRowsPlan.Make(sliceRows == 2 * Lanes ? 2 * Lanes : Lanes, rows, columns, values, cols, rowPointers);
        if (rows > Lanes && sliceRows == 0)
        {
            var wide = WindowedRowsPlan.Make(2 * Lanes, rows, columns, values, cols, rowPointers);
            plan = wide.Cost < plan.Cost ? wide : plan;
        }

        if (plan.Slots > MaxSlotsPerEntry * Math.Max(nnz, Lanes) || plan.Slots > Array.MaxLength)
        {
            return null;
        }

        var (sl, order, steps) = (plan.SliceRows, plan.Order, plan.Steps);
        var slices = (rows + sl - 1) / sl;
        var windows = (columns + Window - 1) / Window;
        WeightChecks.Auxiliary(plan.Slots + (plan.Quads * sl) + (2L * plan.Runs) + rows + slices, $"The windowed layout of a {rows} × {columns} sparse matrix");
        var slicePointers = new int[slices + 1];
        var windowOfRun = new int[plan.Runs];
        var stepsOfRun = new int[plan.Runs];
        var laneCounts = new int[sl * windows];
        var firstSlot = new long[windows];
        var firstQuad = new long[windows];
        var v = new PinnedAligned<float>((int)plan.Slots);
        var offsets = new PinnedAligned<byte>((int)(plan.Quads * sl * 4));
        var pv = v.Pointer;
        var po = offsets.Pointer;
        var run = 0;
        long at = 0;
        long atQuad = 0;
        for (var s = 0; s < slices; s++)
        {
            for (var w = 0; w < windows; w++)
            {
                var k = steps[(s * windows) + w];
                (firstSlot[w], firstQuad[w]) = (at, atQuad);
                if (k > 0)
                {
                    (windowOfRun[run], stepsOfRun[run]) = (w, k);
                    run++;
                    at += (long)k * sl;
                    atQuad += (k + 3) / 4;
                }
            }

            slicePointers[s + 1] = run;

            // A step holds the slice's sl lanes in order; a quad of steps holds each lane's four offsets in a 32-bit lane.
            Array.Clear(laneCounts);
            for (var l = 0; l < sl && (s * sl) + l < rows; l++)
            {
                var r = order[(s * sl) + l];
                for (var e = rowPointers[r]; e < rowPointers[r + 1]; e++)
                {
                    if (values[e] != 0)
                    {
                        var w = cols[e] / Window;
                        var step = laneCounts[(l * windows) + w]++;
                        pv[firstSlot[w] + ((long)step * sl) + l] = values[e];
                        po[((firstQuad[w] + (step / 4)) * sl * 4) + (l * 4) + (step % 4)] = (byte)(cols[e] % Window);
                    }
                }
            }
        }

        return new WindowedRows(rows, columns, sl, order, slicePointers, windowOfRun, stepsOfRun, v, offsets);
    }

    /// <summary>y = Wx (+ bias when <paramref name="bias"/> is not null); x has Columns entries, y Rows.</summary>
    public void MultiplyVector(float* x, float* y, float* bias)
    {
        if (_sliceRows == Lanes)
        {
            Multiply<OneRegister>(x, y, bias);
        }
        else
        {
            Multiply<TwoRegisters>(x, y, bias);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private void Multiply<TWidth>(float* x, float* y, float* bias)
        where TWidth : struct, ISliceWidth
    {
        // The last, partial window of x read from a zero-padded copy, so that no load passes the end of x.
        var whole = _columns / Window;
        var tail = stackalloc float[Window];
        new Span<float>(tail, Window).Clear();
        new ReadOnlySpan<float>(x + (whole * Window), _columns - (whole * Window)).CopyTo(new Span<float>(tail, Window));
        var sl = TWidth.Two ? 2 * Lanes : Lanes;
        var sums = stackalloc float[2 * Lanes];
        var pv = _values.Pointer;
        var po = (int*)_offsets.Pointer;
        fixed (int* pw = _windowOfRun, pk = _stepsOfRun)
        {
            var e = 0;
            var q = 0;
            for (var s = 0; s + 1 < _slicePointers.Length; s++)
            {
                // Four sums per lane: an FMA's latency is four cycles, so fewer chains would leave the permute port idle.
                Vector512<float> a0 = Vector512<float>.Zero, a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
                for (var run = _slicePointers[s]; run < _slicePointers[s + 1]; run++)
                {
                    var w = pw[run];
                    var xw = w < whole ? x + (w * Window) : tail;
                    var lo = Vector512.Load(xw);
                    var hi = Vector512.Load(xw + Lanes);
                    var k = pk[run];
                    if (Vector512.EqualsAll(lo | hi, Vector512<float>.Zero))
                    {
                        // All 32 inputs are zero (an image's blank border, a ReLU's zeros): the window's steps would add zeros.
                        (e, q) = (e + (k * sl), q + (((k + 3) / 4) * sl));
                        continue;
                    }

                    for (; k >= 4; k -= 4, e += 4 * sl, q += sl)
                    {
                        var idx = Vector512.Load(po + q);
                        a0 = Step(pv + e, idx, lo, hi, a0);
                        a1 = Step(pv + e + sl, Avx512F.ShiftRightLogical(idx, 8), lo, hi, a1);
                        a2 = Step(pv + e + (2 * sl), Avx512F.ShiftRightLogical(idx, 16), lo, hi, a2);
                        a3 = Step(pv + e + (3 * sl), Avx512F.ShiftRightLogical(idx, 24), lo, hi, a3);
                        if (TWidth.Two)
                        {
                            var idx2 = Vector512.Load(po + q + Lanes);
                            b0 = Step(pv + e + Lanes, idx2, lo, hi, b0);
                            b1 = Step(pv + e + sl + Lanes, Avx512F.ShiftRightLogical(idx2, 8), lo, hi, b1);
                            b2 = Step(pv + e + (2 * sl) + Lanes, Avx512F.ShiftRightLogical(idx2, 16), lo, hi, b2);
                            b3 = Step(pv + e + (3 * sl) + Lanes, Avx512F.ShiftRightLogical(idx2, 24), lo, hi, b3);
                        }
                    }

                    if (k > 0)
                    {
                        var idx = Vector512.Load(po + q);
                        var idx2 = TWidth.Two ? Vector512.Load(po + q + Lanes) : idx;
                        a0 = Step(pv + e, idx, lo, hi, a0);
                        b0 = TWidth.Two ? Step(pv + e + Lanes, idx2, lo, hi, b0) : b0;
                        if (k > 1)
                        {
                            a1 = Step(pv + e + sl, Avx512F.ShiftRightLogical(idx, 8), lo, hi, a1);
                            b1 = TWidth.Two ? Step(pv + e + sl + Lanes, Avx512F.ShiftRightLogical(idx2, 8), lo, hi, b1) : b1;
                        }

                        if (k > 2)
                        {
                            a2 = Step(pv + e + (2 * sl), Avx512F.ShiftRightLogical(idx, 16), lo, hi, a2);
                            b2 = TWidth.Two ? Step(pv + e + (2 * sl) + Lanes, Avx512F.ShiftRightLogical(idx2, 16), lo, hi, b2) : b2;
                        }

                        (e, q) = (e + (k * sl), q + sl);
                    }
                }

                ((a0 + a1) + (a2 + a3)).Store(sums);
                ((b0 + b1) + (b2 + b3)).Store(sums + Lanes);
                var first = s * sl;
                var lanes = Math.Min(sl, _rows - first);
                for (var l = 0; l < lanes; l++)
                {
                    var r = _rowOfLane[first + l];
                    y[r] = bias == null ? sums[l] : sums[l] + bias[r];
                }
            }
        }
    }

    /// <summary>One step: 16 values times x at the offsets in the low 5 bits of each lane of <paramref name="idx"/> (vpermt2ps reads no others), added to <paramref name="a"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Step(float* v, Vector512<int> idx, Vector512<float> lo, Vector512<float> hi, Vector512<float> a) =>
        Vector512.FusedMultiplyAdd(Vector512.Load(v), Avx512F.PermuteVar16x32x2(lo, idx, hi), a);

    private struct OneRegister : ISliceWidth
    {
        public static bool Two => false;
    }

    private struct TwoRegisters : ISliceWidth
    {
        public static bool Two => true;
    }
}
