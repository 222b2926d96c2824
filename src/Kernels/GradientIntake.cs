using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace WoodFisher.Kernels;

/// <summary>Where <see cref="GradientIntake"/> delivers gradient rows.</summary>
internal interface IRowSink
{
    /// <summary>Takes the first n rows of the intake's float64 panel (row-major, n × d).</summary>
    void Panel(double[] rows, int n);

    /// <summary>Takes n rows straight from the caller's chunk (float32 or float64), without a copy.</summary>
    void Direct<T>(ReadOnlySpan<T> rows, int n)
        where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>
/// The builder's intake of gradient rows: chunk checks, the non-finite scan, mini-batch averaging (groups of B raw rows
/// become one row; a trailing partial group is averaged over the rows it has) and the float64 panel the rows are gathered
/// into before they enter the sink a panel at a time; or, when the sink reads rows in place, whole panels straight from
/// the caller's chunk.
/// </summary>
internal sealed class GradientIntake(int dimension, int miniBatch, int panelRows, long? expectedRows, bool direct, IRowSink sink)
{
    private readonly double[] _batchSum = miniBatch > 1 ? new double[dimension] : [];
    // The panel is no taller than the rows that will enter, when they are known (a panel of c/2 rows can exceed m); it is
    // then full exactly when the last row is in, as at the final flush.
    private readonly int _capacity = expectedRows is { } e ? (int)Math.Clamp((e + miniBatch - 1) / miniBatch, 1, panelRows) : panelRows;
    private double[] _panel = [];
    private int _batchCount;
    private int _panelCount;

    /// <summary>Raw rows added (before averaging).</summary>
    public long RawRows { get; private set; }

    /// <summary>Rows that entered the sink (after averaging).</summary>
    public long Entered { get; private set; }

    /// <summary>Whether the float64 panel buffer has been allocated.</summary>
    public bool PanelAllocated => _panel.Length > 0;

    /// <summary>Checks the chunk (rows × d entries, all finite), then adds it; a rejected chunk adds nothing.</summary>
    /// <exception cref="NonFiniteGradientException">An entry is NaN or infinite.</exception>
    public void Add<T>(ReadOnlySpan<T> g, int rows)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        if (g.Length != (long)rows * dimension)
        {
            throw new ArgumentException($"Expected {rows} × {dimension} = {(long)rows * dimension} gradient entries, got {g.Length}.", "gradients");
        }

        ScanFinite(g);
        if (miniBatch == 1)
        {
            AddRows(g, rows);
            return;
        }

        for (var r = 0; r < rows; r++)
        {
            var row = g.Slice(r * dimension, dimension);
            RawRows++;
            for (var i = 0; i < dimension; i++)
            {
                _batchSum[i] += double.CreateTruncating(row[i]);
            }

            if (++_batchCount == miniBatch)
            {
                FlushBatch();
            }
        }
    }

    /// <summary>Counts <paramref name="rows"/> rows the sink took by another way (as factors), after none of its own.</summary>
    public void CountFactored(long rows)
    {
        RawRows += rows;
        Entered += rows;
    }

    /// <summary>Delivers what is still gathered: a partial mini-batch, then a partial panel.</summary>
    public void Flush()
    {
        if (_batchCount > 0)
        {
            FlushBatch();
        }

        FlushPanel();
    }

    /// <summary>Drops the panel buffer; returns its bytes.</summary>
    public long Release()
    {
        var bytes = _panel.LongLength * 8;
        _panel = [];
        return bytes;
    }

    private void ScanFinite<T>(ReadOnlySpan<T> g)
        where T : IFloatingPointIeee754<T>
    {
        // MaxMagnitude is NaN when any entry is NaN and infinite when any is infinite: one vectorised pass in the
        // common all-finite case; the scalar scan only runs to name the offending entry.
        if (g.IsEmpty || T.IsFinite(TensorPrimitives.MaxMagnitude(g)))
        {
            return;
        }

        for (var i = 0; i < g.Length; i++)
        {
            if (!T.IsFinite(g[i]))
            {
                throw new NonFiniteGradientException(RawRows + (i / dimension), i % dimension, double.CreateTruncating(g[i]));
            }
        }
    }

    private void AddRows<T>(ReadOnlySpan<T> g, int rows)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = dimension;

        // Whole runs of rows go into the panel (converted to float64 in one vectorised pass), or, when the sink reads rows
        // in place and whole panels are on hand (or the last rows expected), straight to it without a copy.
        for (var r0 = 0; r0 < rows;)
        {
            var last = expectedRows is { } e && RawRows + (rows - r0) == e;
            if (_panelCount == 0 && direct && (rows - r0 >= panelRows || last))
            {
                var whole = last ? rows - r0 : (rows - r0) / panelRows * panelRows;
                sink.Direct(g.Slice(r0 * d, whole * d), whole);
                RawRows += whole;
                Entered += whole;
                r0 += whole;
                continue;
            }

            var n = Math.Min(_capacity - _panelCount, rows - r0);
            EnsurePanel();
            var src = g.Slice(r0 * d, n * d);
            var dst = _panel.AsSpan(_panelCount * d, n * d);
            if (typeof(T) == typeof(double))
            {
                MemoryMarshal.Cast<T, double>(src).CopyTo(dst);
            }
            else
            {
                TensorPrimitives.ConvertTruncating(src, dst);
            }

            RawRows += n;
            _panelCount += n;
            r0 += n;
            if (_panelCount == _capacity)
            {
                FlushPanel();
            }
        }
    }

    /// <summary>Allocates the float64 panel buffer on first use (streams that never need it never pay for it).</summary>
    private void EnsurePanel()
    {
        if (_panel.Length == 0)
        {
            _panel = new double[(long)_capacity * dimension];
        }
    }

    private void FlushBatch()
    {
        EnsurePanel();
        TensorPrimitives.Multiply(_batchSum, 1.0 / _batchCount, _panel.AsSpan(_panelCount * dimension, dimension));
        Array.Clear(_batchSum);
        _batchCount = 0;
        if (++_panelCount == _capacity)
        {
            FlushPanel();
        }
    }

    private void FlushPanel()
    {
        if (_panelCount == 0)
        {
            return;
        }

        var n = _panelCount;
        _panelCount = 0;
        Entered += n;
        sink.Panel(_panel, n);
    }
}
