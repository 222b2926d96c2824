using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// A sparse matrix laid out for y = Wx with AVX-512 and no memory gathers: rows in slices of <see cref="Lanes"/> (sorted by
/// entry count, so that a slice's rows have similar counts), inputs in windows of <see cref="Window"/>. For each slice and
/// window with entries, K steps of 16 lanes: step k holds each row's k-th entry in the window (value, and column inside the
/// window as a byte) or a zero. A step is one two-register permute of the window of x (vpermt2ps, a gather from registers,
/// one cycle) and one FMA into a register holding the slice's 16 sums; the 8-lane memory gather it replaces costs several
/// cycles. Zero padding makes it pay only while the steps hold a fair share of entries (<see cref="TryBuild"/>).
/// </summary>
internal sealed unsafe class WindowedRows
{
    /// <summary>Rows per slice (one 512-bit register of sums).</summary>
    public const int Lanes = 16;

    /// <summary>Inputs per window (two 512-bit registers of x).</summary>
    public const int Window = 32;

    /// <summary>Padded slots allowed per stored entry: past it the permutes of zeros cost more than the gathers they replace.</summary>
    private const int MaxSlotsPerEntry = 4;

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

        // Longest rows first, ties in row order (OrderByDescending is stable).
        var order = Enumerable.Range(0, rows).OrderByDescending(r => counts[r]).ToArray();

        // Per slice: each lane's entries per window, and the steps each window needs (the largest lane count).
        WeightChecks.Auxiliary((long)Lanes * windows * 2, $"The windowed layout of a {rows} × {columns} sparse matrix");
        var laneCounts = new int[Lanes * windows];
        var steps = new int[slices * windows];
        long slots = 0;
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
                runs += k > 0 ? 1 : 0;
            }
        }

        if (slots > MaxSlotsPerEntry * Math.Max(nnz, Lanes) || slots > Array.MaxLength)
        {
            return null;
        }

        WeightChecks.Auxiliary((slots * 5 / 4) + (2L * runs) + rows + slices, $"The windowed layout of a {rows} × {columns} sparse matrix");
        var slicePointers = new int[slices + 1];
        var windowOfRun = new int[runs];
        var stepsOfRun = new int[runs];
        var firstSlot = new long[windows];
        var v = new PinnedAligned<float>((int)slots);
        var offsets = new PinnedAligned<byte>((int)slots);
        var pv = v.Pointer;
        var po = offsets.Pointer;
        var run = 0;
        long at = 0;
        for (var s = 0; s < slices; s++)
        {
            for (var w = 0; w < windows; w++)
            {
                var k = steps[(s * windows) + w];
                firstSlot[w] = at;
                if (k > 0)
                {
                    (windowOfRun[run], stepsOfRun[run]) = (w, k);
                    run++;
                    at += (long)k * Lanes;
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
                        var slot = firstSlot[w] + ((long)laneCounts[(l * windows) + w]++ * Lanes) + l;
                        (pv[slot], po[slot]) = (values[e], (byte)(cols[e] % Window));
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
        var po = _offsets.Pointer;
        fixed (int* pw = _windowOfRun, pk = _stepsOfRun)
        {
            var e = 0;
            for (var s = 0; s + 1 < _slicePointers.Length; s++)
            {
                Vector512<float> a0 = Vector512<float>.Zero, a1 = a0;
                for (var run = _slicePointers[s]; run < _slicePointers[s + 1]; run++)
                {
                    var w = pw[run];
                    var xw = w < whole ? x + (w * Window) : tail;
                    var lo = Vector512.Load(xw);
                    var hi = Vector512.Load(xw + Lanes);
                    var k = pk[run];
                    for (; k >= 2; k -= 2, e += 2 * Lanes)
                    {
                        a0 = Vector512.FusedMultiplyAdd(Vector512.Load(pv + e), Avx512F.PermuteVar16x32x2(lo, Avx512F.ConvertToVector512Int32(Vector128.Load(po + e)), hi), a0);
                        a1 = Vector512.FusedMultiplyAdd(Vector512.Load(pv + e + Lanes), Avx512F.PermuteVar16x32x2(lo, Avx512F.ConvertToVector512Int32(Vector128.Load(po + e + Lanes)), hi), a1);
                    }

                    if (k == 1)
                    {
                        a0 = Vector512.FusedMultiplyAdd(Vector512.Load(pv + e), Avx512F.PermuteVar16x32x2(lo, Avx512F.ConvertToVector512Int32(Vector128.Load(po + e)), hi), a0);
                        e += Lanes;
                    }
                }

                (a0 + a1).Store(sums);
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
