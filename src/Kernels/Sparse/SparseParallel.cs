using System.Numerics.Tensors;
using System.Runtime.ExceptionServices;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// Splits a product over the cores: by output rows when there are enough of them, else by output columns (a short, wide
/// product such as a convolution's im2col matrix). Products under <see cref="Threshold"/> multiply-adds run on the
/// calling thread, where dispatching to other cores would cost more than it saves.
/// </summary>
/// <remarks>
/// The work is cut into <see cref="PiecesPerCore"/> pieces per core that the calling thread and the helpers it queues take
/// in turn, and the caller spins at the join rather than blocking. A pool thread that has gone to sleep takes tens of
/// microseconds to wake (longer than a layer's product at batch 64): with one part per core the caller would finish its
/// own part, run the sleeper's as well and then block on the join, slower than not splitting. With pieces the caller never
/// waits for a helper that has not started: a late helper takes what is left, or nothing.
/// </remarks>
internal static class SparseParallel
{
    /// <summary>
    /// Multiply-adds per core below which a product is not split: 2¹⁹ are about 5 µs of one core's work, the least that
    /// pays for waking another core and joining it (a split 53 × 147 × 64 product, 2¹⁹ in all, ran slower than on one
    /// core on a 2-core Xeon).
    /// </summary>
    public const long Threshold = 1L << 19;

    /// <summary>
    /// Pieces per core: enough that a helper arriving late still takes a share, few enough that each piece's pass over all
    /// of B (which every row range reads) stays small against its multiply-adds.
    /// </summary>
    private const int PiecesPerCore = 4;

    /// <summary>Column ranges are multiples of this (a whole number of 512-bit registers).</summary>
    private const int ColumnAlign = 64;

    /// <summary>Parts to split <paramref name="work"/> multiply-adds into.</summary>
    public static int Parts(long work) => work < Threshold || !CoreSplit.MaySplit ? 1 : (int)Math.Min(Environment.ProcessorCount, work / Threshold);

    /// <summary>
    /// Runs <paramref name="body"/>(r0, r1, j0, j1) over a partition of rows [0, rows) × columns [<paramref name="firstColumn"/>,
    /// n). When <paramref name="rowWork"/> (cumulative work per row, length rows + 1, like CSR row pointers) is given, row
    /// ranges carry equal work rather than equal counts; otherwise the inner boundaries are multiples of
    /// <paramref name="rowGrain"/> (a kernel that takes rows in passes of that many does no pass over fewer rows except the last).
    /// </summary>
    public static void For(int rows, int n, long work, Action<int, int, int, int> body, int[]? rowWork = null, int rowGrain = 1, Rectifier rectify = default, int firstColumn = 0)
    {
        if (rectify.Active)
        {
            var inner = body;
            body = (r0, r1, j0, j1) =>
            {
                inner(r0, r1, j0, j1);
                rectify.Apply(r0, r1, j0, j1);
            };
        }

        var parts = Parts(work);
        var width = n - firstColumn;
        if (parts <= 1 || (rows < 2 && width < 2 * ColumnAlign))
        {
            body(0, rows, firstColumn, n);
            return;
        }

        Job job;
        if (rows >= 4 * parts || width < 2 * ColumnAlign)
        {
            var pieces = Math.Min(parts * PiecesPerCore, Math.Max(1, rows / Math.Max(1, rowGrain)));
            job = new Job(pieces, p => body(RowBoundary(rows, pieces, p, rowWork, rowGrain), RowBoundary(rows, pieces, p + 1, rowWork, rowGrain), firstColumn, n));
        }
        else
        {
            var chunk = Math.Max(ColumnAlign, (((width + (parts * PiecesPerCore) - 1) / (parts * PiecesPerCore)) + ColumnAlign - 1) / ColumnAlign * ColumnAlign);
            job = new Job((width + chunk - 1) / chunk, p => body(0, rows, firstColumn + (p * chunk), Math.Min(n, firstColumn + ((p + 1) * chunk))));
        }

        job.Run(Math.Min(parts, job.Pieces));
    }

    /// <summary>
    /// max(·, 0) over the part of C (row-major, <c>n</c> columns) that a piece wrote, run by the core that wrote it while it
    /// is in that core's cache: a separate pass after the product read the other core's half across the cores. A piece's
    /// unit u covers rows [u·rowsPerUnit, (u + 1)·rowsPerUnit) (pairs of rows, tiles of rows), clipped to <c>rows</c>.
    /// </summary>
    internal readonly unsafe struct Rectifier(float* c, int n, int rows, int rowsPerUnit)
    {
        private readonly nint _c = (nint)c;

        public bool Active => _c != 0;

        public void Apply(int u0, int u1, int j0, int j1)
        {
            var (r1, width) = (Math.Min(rows, u1 * rowsPerUnit), j1 - j0);
            for (var r = u0 * rowsPerUnit; r < r1; r++)
            {
                var row = new Span<float>((float*)_c + ((nint)r * n) + j0, width);
                TensorPrimitives.Max(row, 0f, row);
            }
        }
    }

    private static int RowBoundary(int rows, int parts, int p, int[]? rowWork, int rowGrain)
    {
        if (p >= parts)
        {
            return rows;
        }

        if (rowWork is null)
        {
            return (int)((long)rows * p / parts) / rowGrain * rowGrain;
        }

        var target = rowWork[0] + ((long)(rowWork[rows] - rowWork[0]) * p / parts);
        var at = Array.BinarySearch(rowWork, 0, rows + 1, (int)target);
        return Math.Clamp(at >= 0 ? at : ~at, 0, rows);
    }

    /// <summary>Pieces 0 … <see cref="Pieces"/> − 1 of one product, taken in turn by the caller and its helpers.</summary>
    internal sealed class Job(int pieces, Action<int> piece) : IThreadPoolWorkItem
    {
        private int _next;
        private int _done;
        private Exception? _error;

        public int Pieces => pieces;

        /// <summary>Queues <paramref name="threads"/> − 1 helpers, takes pieces until none is left, and returns when every piece is done.</summary>
        public void Run(int threads)
        {
            for (var h = 1; h < threads; h++)
            {
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            }

            Execute();

            // The pieces still running are already on a core, each a fraction of the product: spin rather than block, since
            // a blocked caller is as slow to wake as a sleeping helper.
            var spin = default(SpinWait);
            while (Volatile.Read(ref _done) < pieces)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }

            if (_error is not null)
            {
                ExceptionDispatchInfo.Capture(_error).Throw();
            }
        }

        public void Execute()
        {
            for (var p = Interlocked.Increment(ref _next) - 1; p < pieces; p = Interlocked.Increment(ref _next) - 1)
            {
                try
                {
                    piece(p);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref _error, e, null);
                }
                finally
                {
                    Interlocked.Increment(ref _done);
                }
            }
        }
    }
}
