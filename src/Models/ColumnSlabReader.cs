using System.Collections.Concurrent;
using System.Diagnostics;
using WoodFisher.Kernels;

namespace WoodFisher.Models;

/// <summary>One piece of a column slab: rows [<see cref="FirstRow"/>, + <see cref="Rows"/>) of G restricted to group <see cref="Group"/>'s columns.</summary>
/// <param name="Group">Index of the group in the reader's list.</param>
/// <param name="FirstRow">First row of G in the piece.</param>
/// <param name="Rows">Rows in the piece.</param>
/// <param name="Data">Rows × the group's columns, row-major (valid until the next <see cref="ColumnSlabReader.Next"/>).</param>
public readonly record struct SlabPiece(int Group, long FirstRow, int Rows, ReadOnlyMemory<float> Data)
{
    /// <summary>True for the last piece of its group.</summary>
    public bool LastOfGroup { get; init; }
}

/// <summary>
/// Reads the rows of G (m × d) restricted to successive groups of columns — each group's slab in pieces of at most
/// <c>pieceRows</c> rows — on a background thread one piece ahead of the consumer, so reading overlaps the work done on
/// the previous piece. Two piece buffers are in memory at once. A source that can read columns directly
/// (<see cref="IColumnGradientSource"/>, e.g. a .npy file) reads only each group's bytes; any other source is streamed
/// from its first row once per group, keeping the group's columns of each row.
/// </summary>
public sealed class ColumnSlabReader : IDisposable
{
    private readonly IGradientSource _source;
    private readonly IReadOnlyList<BlockRange> _groups;
    private readonly int _pieceRows;
    private readonly int _rowsPerRead;
    private float[]? _rowBuffer;
    private readonly BlockingCollection<float[]> _free = new(2);
    private readonly BlockingCollection<SlabPiece> _ready = new(2);
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _reading = new();
    private readonly Stopwatch _waiting = new();
    private readonly Task _producer;
    private float[]? _held;
    private Exception? _failure;

    /// <summary>Starts reading the first piece of the first group.</summary>
    /// <param name="source">The rows of G; not disposed by the reader, and not to be used by others until it is.</param>
    /// <param name="groups">Column ranges to read, in order (non-empty ranges within [0, d)).</param>
    /// <param name="pieceRows">Rows per piece (≥ 1).</param>
    /// <param name="rowsPerRead">Whole rows read at once from a source that cannot read columns (a model's autograd
    /// computes them in batches of this many; <see cref="PassPlan.ChunkRows"/>); null = at most
    /// <see cref="PassPlan.RowBufferElements"/> entries. At least one row, at most a piece.</param>
    public ColumnSlabReader(IGradientSource source, IReadOnlyList<BlockRange> groups, int pieceRows, int? rowsPerRead = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentOutOfRangeException.ThrowIfLessThan(pieceRows, 1);
        if (source.Count < 1)
        {
            throw new ArgumentException("The source must know its row count (≥ 1) to be read by column slabs.", nameof(source));
        }

        long widest = 0;
        foreach (var g in groups)
        {
            if (g.IsEmpty || g.Start < 0 || g.End > source.Dimension)
            {
                throw new ArgumentOutOfRangeException(nameof(groups), $"Group [{g.Start}, {g.End}) is empty or does not lie in the source's {source.Dimension} columns.");
            }

            widest = Math.Max(widest, g.Length);
        }

        _source = source;
        _groups = groups;
        _pieceRows = (int)Math.Min(pieceRows, source.Count);
        _rowsPerRead = Math.Clamp(rowsPerRead ?? (int)Math.Min(PassPlan.RowBufferElements / source.Dimension, int.MaxValue), 1, _pieceRows);
        var length = MemoryBudget.Product(_pieceRows, widest);
        if (length > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(pieceRows), $"A piece of {_pieceRows} rows × {widest} columns exceeds the largest array; read fewer rows per piece.");
        }

        for (var i = 0; i < 2; i++)
        {
            _free.Add(new float[length]);
        }

        _producer = Task.Factory.StartNew(Produce, TaskCreationOptions.LongRunning);
    }

    /// <summary>Seconds the background thread spent reading.</summary>
    public double ReadSeconds => _reading.Elapsed.TotalSeconds;

    /// <summary>Seconds the consumer waited for a piece (reading not hidden behind the work).</summary>
    public double WaitSeconds => _waiting.Elapsed.TotalSeconds;

    /// <summary>
    /// The next piece, in group order and row order within a group; false after the last. The previous piece's buffer is
    /// reused from this call on.
    /// </summary>
    /// <exception cref="Exception">Whatever reading the source threw (e.g. <see cref="InvalidDataException"/> for a truncated file).</exception>
    public bool Next(out SlabPiece piece)
    {
        if (_held is { } previous)
        {
            _held = null;
            _free.Add(previous);
        }

        _waiting.Start();
        var got = _ready.TryTake(out var p, Timeout.Infinite);
        _waiting.Stop();
        if (got)
        {
            _held = Buffer(p);
            piece = p;
            return true;
        }

        if (_failure is { } failure)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        }

        piece = default;
        return false;
    }

    /// <summary>Stops the background thread and drops the buffers.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _producer.Wait();
        }
        catch (AggregateException)
        {
        }

        _stop.Dispose();
        _free.Dispose();
        _ready.Dispose();
    }

    private static float[] Buffer(SlabPiece piece) =>
        System.Runtime.InteropServices.MemoryMarshal.TryGetArray(piece.Data, out var segment) ? segment.Array! : throw new InvalidOperationException("A piece is always backed by a pooled array.");

    private void Produce()
    {
        try
        {
            var token = _stop.Token;
            for (var g = 0; g < _groups.Count; g++)
            {
                if (_source is IColumnGradientSource columns)
                {
                    ReadByColumns(columns, g, token);
                }
                else
                {
                    ReadByRows(g, token);
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            _failure = ex;
        }
        finally
        {
            _ready.CompleteAdding();
        }
    }

    private void ReadByColumns(IColumnGradientSource source, int g, CancellationToken token)
    {
        var group = _groups[g];
        var m = source.Count;
        for (long r0 = 0; r0 < m; r0 += _pieceRows)
        {
            var rows = (int)Math.Min(_pieceRows, m - r0);
            var buffer = _free.Take(token);
            _reading.Start();
            source.ReadColumns(r0, rows, group.Start, group.Length, buffer.AsSpan(0, rows * group.Length));
            _reading.Stop();
            _ready.Add(new SlabPiece(g, r0, rows, buffer.AsMemory(0, rows * group.Length)) { LastOfGroup = r0 + rows == m }, token);
        }
    }

    private void ReadByRows(int g, CancellationToken token)
    {
        var group = _groups[g];
        var d = _source.Dimension;
        var m = _source.Count;
        var chunk = _rowsPerRead;

        // One row buffer for every group's pass: a new one per group would leave each old one to the GC's large-object heap.
        var rowBuffer = _rowBuffer ??= new float[(long)chunk * d];
        _source.Reset();
        long row = 0;
        while (row < m)
        {
            var rows = (int)Math.Min(_pieceRows, m - row);
            var buffer = _free.Take(token);
            for (var done = 0; done < rows;)
            {
                _reading.Start();
                var got = _source.Read(rowBuffer, Math.Min(chunk, rows - done));
                _reading.Stop();
                if (got <= 0)
                {
                    throw new InvalidDataException($"The gradient source ended after {row + done} of its {m} rows.");
                }

                for (var r = 0; r < got; r++)
                {
                    rowBuffer.AsSpan((r * d) + group.Start, group.Length).CopyTo(buffer.AsSpan((done + r) * group.Length, group.Length));
                }

                done += got;
            }

            _ready.Add(new SlabPiece(g, row, rows, buffer.AsMemory(0, rows * group.Length)) { LastOfGroup = row + rows == m }, token);
            row += rows;
        }
    }
}
