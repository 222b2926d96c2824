using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// A sparse matrix laid out for y = Wx with AVX-512 and no memory gathers: rows in slices of <see cref="Lanes"/> (sorted by
/// entry count, then rows swapped between slices where that removes steps), inputs in windows of <see cref="Window"/>. For
/// each slice and window with entries, K steps of 16 lanes: step k holds each row's k-th entry in the window (value, and
/// column inside the window as a byte) or a zero, K the most entries any of the slice's rows has there. A step is one
/// two-register permute of the window of x (vpermt2ps, a gather from registers, one cycle) and one FMA into one of four
/// registers of the slice's sums; the 8-lane memory gather it replaces costs several cycles. The offsets of four steps share
/// a 32-bit lane, a byte each: vpermt2ps reads only an index's low 5 bits, so steps 2–4 take a shift (another port) where a
/// byte-to-lane widening would queue on the permute's port. Zero padding makes the layout pay only while the steps hold a
/// fair share of entries (<see cref="TryBuild"/>). A window whose 32 inputs are all zero is skipped, so the time depends on
/// the input: on Fashion-MNIST images about an eighth of the first layer's steps fall in blank windows.
/// </summary>
internal sealed unsafe class WindowedRows
{
    /// <summary>Rows per slice (one 512-bit register of sums).</summary>
    public const int Lanes = 16;

    /// <summary>Inputs per window (two 512-bit registers of x).</summary>
    public const int Window = 32;

    /// <summary>Padded slots allowed per stored entry: past it the permutes of zeros cost more than the gathers they replace.</summary>
    private const int MaxSlotsPerEntry = 4;

    /// <summary>Count comparisons the row balancing may spend (about 10 ms).</summary>
    private const long BalanceWork = 30_000_000;

    private readonly int _rows;
    private readonly int _columns;
    private readonly int[] _rowOfLane;
    private readonly int[] _slicePointers;
    private readonly int[] _windowOfRun;
    private readonly int[] _stepsOfRun;
    private readonly PinnedAligned<float> _values;
    private readonly PinnedAligned<byte> _offsets;

    private WindowedRows(int rows, int columns, int[] rowOfLane, int[] slicePointers, int[] windowOfRun, int[] stepsOfRun, PinnedAligned<float> values, PinnedAligned<byte> offsets)
    {
        (_rows, _columns, _rowOfLane, _slicePointers) = (rows, columns, rowOfLane, slicePointers);
        (_windowOfRun, _stepsOfRun, _values, _offsets) = (windowOfRun, stepsOfRun, values, offsets);
    }

    /// <summary>Steps of 16 lanes (padding included) that one y = Wx runs.</summary>
    public int Steps => _values.Length / Lanes;

    /// <summary>Whether this process can run the layout (AVX-512F).</summary>
    public static bool Supported => Avx512F.IsSupported && SimdPaths.Detected == SimdPath.Avx512;

    /// <summary>
    /// The layout of rows given as runs of (value, column) entries (any order within a row; exact zeros are left out), or
    /// null when its padding would exceed <see cref="MaxSlotsPerEntry"/> slots per entry.
    /// </summary>
    public static WindowedRows? TryBuild(int rows, int columns, float[] values, int[] cols, int[] rowPointers)
    {
        var slices = (rows + Lanes - 1) / Lanes;
        var windows = (columns + Window - 1) / Window;
        var counts = new int[rows];
        long nnz = 0;
        for (var r = 0; r < rows; r++)
        {
            for (var e = rowPointers[r]; e < rowPointers[r + 1]; e++)
            {
                counts[r] += values[e] != 0 ? 1 : 0;
            }

            nnz += counts[r];
        }

        // Longest rows first, ties in row order (OrderByDescending is stable), then rows swapped between slices where that
        // removes steps.
        var order = Enumerable.Range(0, rows).OrderByDescending(r => counts[r]).ToArray();
        Balance(order, rows, columns, values, cols, rowPointers);

        // Per slice: each lane's entries per window, and the steps each window needs (the largest lane count).
        WeightChecks.Auxiliary((long)Lanes * windows * 2, $"The windowed layout of a {rows} × {columns} sparse matrix");
        var laneCounts = new int[Lanes * windows];
        var steps = new int[slices * windows];
        long slots = 0;
        long quads = 0;
        var runs = 0;
        for (var s = 0; s < slices; s++)
        {
            CountSlice(s, rows, order, values, cols, rowPointers, laneCounts, windows);
            for (var w = 0; w < windows; w++)
            {
                var k = 0;
                for (var l = 0; l < Lanes; l++)
                {
                    k = Math.Max(k, laneCounts[(l * windows) + w]);
                }

                steps[(s * windows) + w] = k;
                slots += (long)k * Lanes;
                quads += (k + 3) / 4;
                runs += k > 0 ? 1 : 0;
            }
        }

        if (slots > MaxSlotsPerEntry * Math.Max(nnz, Lanes) || slots > Array.MaxLength)
        {
            return null;
        }

        WeightChecks.Auxiliary(slots + (quads * Lanes) + (2L * runs) + rows + slices, $"The windowed layout of a {rows} × {columns} sparse matrix");
        var slicePointers = new int[slices + 1];
        var windowOfRun = new int[runs];
        var stepsOfRun = new int[runs];
        var firstSlot = new long[windows];
        var firstQuad = new long[windows];
        var v = new PinnedAligned<float>((int)slots);
        var offsets = new PinnedAligned<byte>((int)(quads * Lanes * 4));
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
                    at += (long)k * Lanes;
                    atQuad += (k + 3) / 4;
                }
            }

            slicePointers[s + 1] = run;
            Array.Clear(laneCounts);
            for (var l = 0; l < Lanes && (s * Lanes) + l < rows; l++)
            {
                var r = order[(s * Lanes) + l];
                for (var e = rowPointers[r]; e < rowPointers[r + 1]; e++)
                {
                    if (values[e] != 0)
                    {
                        var w = cols[e] / Window;
                        var step = laneCounts[(l * windows) + w]++;
                        pv[firstSlot[w] + ((long)step * Lanes) + l] = values[e];
                        po[((firstQuad[w] + (step / 4)) * Lanes * 4) + (l * 4) + (step % 4)] = (byte)(cols[e] % Window);
                    }
                }
            }
        }

        return new WindowedRows(rows, columns, order, slicePointers, windowOfRun, stepsOfRun, v, offsets);
    }

    /// <summary>y = Wx (+ bias when <paramref name="bias"/> is not null); x has Columns entries, y Rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void MultiplyVector(float* x, float* y, float* bias)
    {
        // The last, partial window of x read from a zero-padded copy, so that no load passes the end of x.
        var whole = _columns / Window;
        var tail = stackalloc float[Window];
        new Span<float>(tail, Window).Clear();
        new ReadOnlySpan<float>(x + (whole * Window), _columns - (whole * Window)).CopyTo(new Span<float>(tail, Window));
        var sums = stackalloc float[Lanes];
        var pv = _values.Pointer;
        var po = (int*)_offsets.Pointer;
        fixed (int* pw = _windowOfRun, pk = _stepsOfRun)
        {
            var e = 0;
            var q = 0;
            for (var s = 0; s + 1 < _slicePointers.Length; s++)
            {
                // Four sums per lane: an FMA's latency is four cycles, so fewer chains would leave the permute port idle.
                Vector512<float> a0 = Vector512<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
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
                        (e, q) = (e + (k * Lanes), q + (((k + 3) / 4) * Lanes));
                        continue;
                    }

                    for (; k >= 4; k -= 4, e += 4 * Lanes, q += Lanes)
                    {
                        var idx = Vector512.Load(po + q);
                        a0 = Step(pv + e, idx, lo, hi, a0);
                        a1 = Step(pv + e + Lanes, Avx512F.ShiftRightLogical(idx, 8), lo, hi, a1);
                        a2 = Step(pv + e + (2 * Lanes), Avx512F.ShiftRightLogical(idx, 16), lo, hi, a2);
                        a3 = Step(pv + e + (3 * Lanes), Avx512F.ShiftRightLogical(idx, 24), lo, hi, a3);
                    }

                    if (k > 0)
                    {
                        var idx = Vector512.Load(po + q);
                        a0 = Step(pv + e, idx, lo, hi, a0);
                        if (k > 1)
                        {
                            a1 = Step(pv + e + Lanes, Avx512F.ShiftRightLogical(idx, 8), lo, hi, a1);
                        }

                        if (k > 2)
                        {
                            a2 = Step(pv + e + (2 * Lanes), Avx512F.ShiftRightLogical(idx, 16), lo, hi, a2);
                        }

                        (e, q) = (e + (k * Lanes), q + Lanes);
                    }
                }

                ((a0 + a1) + (a2 + a3)).Store(sums);
                var first = s * Lanes;
                var lanes = Math.Min(Lanes, _rows - first);
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

    /// <summary>
    /// Local search over the rows' slices: a slice costs, per window, the most entries any of its rows has there, so a random
    /// pair of rows in two slices is swapped when that lowers the two slices' cost. Equal moves are refused: they would let
    /// the slices drift towards an even mix of row kinds, away from the groupings that pay. Deterministic (fixed seed); the
    /// trials are bounded so that building costs about 10 ms at most.
    /// </summary>
    private static void Balance(int[] order, int rows, int columns, float[] values, int[] cols, int[] rowPointers)
    {
        var slices = (rows + Lanes - 1) / Lanes;
        var windows = (columns + Window - 1) / Window;
        if (slices < 2)
        {
            return;
        }

        WeightChecks.Auxiliary((long)rows * windows, $"The windowed layout of a {rows} × {columns} sparse matrix");
        var counts = new byte[rows * windows];
        for (var r = 0; r < rows; r++)
        {
            for (var e = rowPointers[r]; e < rowPointers[r + 1]; e++)
            {
                counts[(r * windows) + (cols[e] / Window)] += (byte)(values[e] != 0 ? 1 : 0);
            }
        }

        var cost = new int[slices];
        for (var s = 0; s < slices; s++)
        {
            cost[s] = SliceCost(order, s, rows, counts, windows);
        }

        var trials = (int)Math.Min(100L * rows, BalanceWork / (2L * Lanes * windows));
        var random = new Random(17);
        for (var t = 0; t < trials; t++)
        {
            var (a, b) = (random.Next(slices), random.Next(slices));
            if (a == b)
            {
                continue;
            }

            var i = (a * Lanes) + random.Next(Math.Min(Lanes, rows - (a * Lanes)));
            var j = (b * Lanes) + random.Next(Math.Min(Lanes, rows - (b * Lanes)));
            (order[i], order[j]) = (order[j], order[i]);
            var (ca, cb) = (SliceCost(order, a, rows, counts, windows), SliceCost(order, b, rows, counts, windows));
            if (ca + cb < cost[a] + cost[b])
            {
                (cost[a], cost[b]) = (ca, cb);
            }
            else
            {
                (order[i], order[j]) = (order[j], order[i]);
            }
        }
    }

    /// <summary>Σ over windows of the most entries any row of slice <paramref name="s"/> has in the window.</summary>
    private static int SliceCost(int[] order, int s, int rows, byte[] counts, int windows)
    {
        var cost = 0;
        var end = Math.Min(rows, (s + 1) * Lanes);
        for (var w = 0; w < windows; w++)
        {
            var k = 0;
            for (var i = s * Lanes; i < end; i++)
            {
                k = Math.Max(k, counts[(order[i] * windows) + w]);
            }

            cost += k;
        }

        return cost;
    }

    private static void CountSlice(int s, int rows, int[] order, float[] values, int[] cols, int[] rowPointers, int[] laneCounts, int windows)
    {
        Array.Clear(laneCounts);
        for (var l = 0; l < Lanes && (s * Lanes) + l < rows; l++)
        {
            var r = order[(s * Lanes) + l];
            for (var e = rowPointers[r]; e < rowPointers[r + 1]; e++)
            {
                if (values[e] != 0)
                {
                    laneCounts[(l * windows) + (cols[e] / Window)]++;
                }
            }
        }
    }
}
