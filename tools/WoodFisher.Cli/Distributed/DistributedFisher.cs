using System.Diagnostics;
using System.Runtime.InteropServices;
using WoodFisher.Cli.Commands;
using WoodFisher.Distributed;

namespace WoodFisher.Cli.Distributed;

/// <summary>
/// <c>fisher --grads G.npy --out INV.npz</c> under <c>mpirun</c>: each rank reads its columns of G and builds its
/// cost-balanced range of blocks; rank 0 writes the one .npz — the diagonal gathered by ranges, then the blocks in
/// order, streamed from their owners a chunk (≤ 64 MiB) at a time, so no rank ever holds more than its own blocks and
/// one chunk. Before each chunk rank 0 broadcasts whether to go on, so a failed write stops every rank cleanly.
/// </summary>
internal static class DistributedFisher
{
    private const long ChunkBytes = 64L << 20;

    private sealed record Setup(string? Out, CurvatureBuild Build, RankPlan Plan, NpyColumnSlab? Slab);

    public static int Run(ICommunicator world, FisherCommand.Settings s, VerbRun run)
    {
        if (s.Heatmap is not null)
            throw new UsageException("--heatmap does not apply under mpirun: run fisher without mpirun for heat maps of the first blocks");
        if (s.Grads is null)
            throw new UsageException("fisher under mpirun reads the gradients from --grads G.npy (each rank reads its columns); write them first with grads");
        var setup = Ranks.Agree(world, () =>
        {
            var outPath = world.Rank == 0 ? run.Outputs.File("--out", s.Out) : null;
            var build = CurvatureBuild.Open(s, run);
            var m = (build.Rows + build.Options.MiniBatch - 1) / build.Options.MiniBatch;
            var plan = RankPlan.Create(build.Dimension, build.Options.Segments, build.Options.BlockSize, m, world.Size, build.Options.Strategy, build.Options.Precision);
            var range = plan[world.Rank];
            return new Setup(outPath, build, plan, range.IsEmpty ? null : new NpyColumnSlab(build.File!, range.Start, range.Length));
        });
        using var slab = setup.Slab;
        var plan = setup.Plan;
        var range = plan[world.Rank];
        if (world.Rank == 0)
            RankLines.Plan(world, plan, setup.Build.Rows);

        var clock = Stopwatch.StartNew();
        var read = new Stopwatch();
        WoodFisherInverse? inverse;
        using (var progress = world.Rank == 0 ? CliProgress.Start($"fisher: gradients on {world.Size} ranks", setup.Build.Rows) : null)
            inverse = Ranks.Agree(world, () => slab is null ? null : DistributedPruning.InWholeColumns(range, () => Build(setup, range, progress, read)));
        using var owned = inverse;
        var buildSeconds = clock.Elapsed.TotalSeconds;
        Ranks.Agree(world, () =>
        {
            CheckFinite(inverse);
            return 0;
        });

        clock.Restart();
        var f32 = setup.Build.Options.Precision == Precision.Float32;
        var steps = Steps(plan, f32 ? 4 : 8);
        Exception? failure = null;
        if (world.Rank == 0)
        {
            var stream = new RootStream(world, plan, inverse, steps, f32);
            try
            {
                using var progress = CliProgress.Start("fisher: write", plan.Layout.Count);
                Npz.Write(setup.Out!, stream.Members(progress));
            }
            catch (Exception ex)
            {
                failure = ex;
                stream.Stop();
            }
        }
        else
        {
            Serve(world, plan, inverse, steps, f32);
        }

        Ranks.Agree(world, () => failure is null ? 0 : throw failure);
        var writeSeconds = clock.Elapsed.TotalSeconds;
        var reports = RankReport.Gather(world, range, inverse?.Bytes ?? 0, slab?.Bytes ?? 0, ["read", "inverse", "write"], [read.Elapsed.TotalSeconds, buildSeconds - read.Elapsed.TotalSeconds, writeSeconds]);
        var gradients = world.Sum(world.Rank == 0 ? inverse?.SampleCount ?? 0 : 0);
        if (world.Rank == 0)
        {
            RankLines.Print(reports);
            var bytes = reports.Sum(r => r.InverseBytes);
            var layout = plan.Layout;
            CliConsole.Record(("d", layout.Dimension), ("rows", setup.Build.Rows), ("gradients", gradients), ("blocks", layout.Count), ("block", layout.BlockSize),
                ("strategy", plan.Strategy.ToString().ToLowerInvariant()), ("backend", inverse?.BackendName), ("precision", Pruning.Vocabulary.Name(setup.Build.Options.Precision)), ("ranks", world.Size));
            CliConsole.Record(("seconds", Math.Round(buildSeconds + writeSeconds, 3)), ("read", Math.Round(reports.Max(r => r.Seconds[0]), 3)), ("write", Math.Round(writeSeconds, 3)),
                ("bytes", bytes), ("size", MemoryBudget.Human(bytes)), ("out", setup.Out));
        }

        return 0;
    }

    /// <summary>This rank's blocks from its slab of G, fed in the chunks the single-process run uses (so the same panels).</summary>
    private static WoodFisherInverse Build(Setup setup, BlockRange range, CliProgress? progress, Stopwatch read)
    {
        var build = setup.Build;
        var options = build.Options with { Segments = range.Segments(setup.Plan.Layout), Strategy = setup.Plan.Strategy };
        using var builder = new WoodFisherBuilder(range.Length, options, build.Rows);
        var slab = setup.Slab!;
        var chunkRows = CurvatureBuild.ChunkRows(build.Dimension, build.Rows);
        var width = range.Length;
        if (slab.DType == DType.Float64)
            Stream<double>(slab, builder, chunkRows, width, progress, read);
        else
            Stream<float>(slab, builder, chunkRows, width, progress, read);
        return builder.Build();
    }

    private static void Stream<T>(NpyColumnSlab slab, WoodFisherBuilder builder, int chunkRows, int width, CliProgress? progress, Stopwatch read)
        where T : unmanaged
    {
        var buffer = new T[(long)chunkRows * width];
        while (true)
        {
            read.Start();
            var n = typeof(T) == typeof(double) ? slab.ReadRows(MemoryMarshal.Cast<T, double>(buffer.AsSpan()), chunkRows) : slab.ReadRows(MemoryMarshal.Cast<T, float>(buffer.AsSpan()), chunkRows);
            read.Stop();
            if (n == 0)
                break;
            if (typeof(T) == typeof(double))
                builder.Add(MemoryMarshal.Cast<T, double>(buffer.AsSpan(0, n * width)), n);
            else
                builder.Add(MemoryMarshal.Cast<T, float>(buffer.AsSpan(0, n * width)), n);
            progress?.Advance(n);
        }
    }

    private static void CheckFinite(WoodFisherInverse? inverse)
    {
        if (inverse is null)
            return;
        Finite.Check(inverse.Diagonal(), "the inverse's diagonal");
        var buffer = new double[(long)inverse.Layout.BlockSize * inverse.Layout.BlockSize];
        for (var b = 0; b < inverse.Layout.Count; b++)
        {
            var c = inverse.Layout.Size(b);
            inverse.ReadBlock(b, buffer.AsSpan(0, c * c));
            Finite.Check(buffer.AsSpan(0, c * c).ToArray(), $"inverse block {b}");
        }
    }

    /// <summary>One gather of the write: blocks [First, First + Count) of the whole layout, owned by <paramref name="Owner"/>.</summary>
    private sealed record Step(int Owner, int First, int Count, long Bytes);

    /// <summary>Each rank's blocks in chunks of at most <see cref="ChunkBytes"/> (at least one block), in block order.</summary>
    private static List<Step> Steps(RankPlan plan, int elementSize)
    {
        var steps = new List<Step>();
        var layout = plan.Layout;
        for (var r = 0; r < plan.Size; r++)
        {
            var range = plan[r];
            var b = range.FirstBlock;
            while (b < range.FirstBlock + range.BlockCount)
            {
                var first = b;
                long bytes = 0;
                while (b < range.FirstBlock + range.BlockCount && (b == first || bytes + ((long)layout.Size(b) * layout.Size(b) * elementSize) <= ChunkBytes))
                {
                    bytes += (long)layout.Size(b) * layout.Size(b) * elementSize;
                    b++;
                }

                steps.Add(new Step(r, first, b - first, bytes));
            }
        }

        return steps;
    }

    /// <summary>The owner's blocks of a step, in the storage precision, as bytes.</summary>
    private static byte[] Pack(RankPlan plan, WoodFisherInverse inverse, Step step, bool f32, int rank)
    {
        var bytes = new byte[step.Bytes];
        var layout = plan.Layout;
        long at = 0;
        var local = step.First - plan[rank].FirstBlock;
        var buffer = new double[(long)layout.BlockSize * layout.BlockSize];
        for (var k = 0; k < step.Count; k++)
        {
            var c = layout.Size(step.First + k);
            var block = buffer.AsSpan(0, c * c);
            inverse.ReadBlock(local + k, block);
            if (f32)
            {
                var dst = MemoryMarshal.Cast<byte, float>(bytes.AsSpan((int)at, c * c * 4));
                System.Numerics.Tensors.TensorPrimitives.ConvertTruncating<double, float>(block, dst);
                at += c * c * 4;
            }
            else
            {
                MemoryMarshal.AsBytes(block).CopyTo(bytes.AsSpan((int)at));
                at += c * c * 8;
            }
        }

        return bytes;
    }

    private static long[] Counts(int size, int owner, long bytes)
    {
        var counts = new long[size];
        counts[owner] = bytes;
        return counts;
    }

    /// <summary>A rank other than 0: sends its diagonal, then its chunks when their turn comes, until done or told to stop.</summary>
    private static void Serve(ICommunicator world, RankPlan plan, WoodFisherInverse? inverse, List<Step> steps, bool f32)
    {
        Span<long> go = [0];
        world.Broadcast(go, 0);
        if (go[0] == 0)
            return;
        world.GatherV<double>(inverse?.Diagonal() ?? [], [], plan.Lengths(), 0);
        foreach (var step in steps)
        {
            world.Broadcast(go, 0);
            if (go[0] == 0)
                return;
            var mine = step.Owner == world.Rank ? Pack(plan, inverse!, step, f32, world.Rank) : [];
            world.GatherV(mine, [], Counts(world.Size, step.Owner, step.Bytes), 0);
        }
    }

    /// <summary>Rank 0's side: the npz members, each gathered from its owner as the writer asks for it.</summary>
    private sealed class RootStream(ICommunicator world, RankPlan plan, WoodFisherInverse? inverse, List<Step> steps, bool f32)
    {
        private int _done = -1;

        public IEnumerable<NamedArray> Members(CliProgress progress)
        {
            Go();
            var diag = new double[plan.Layout.Dimension];
            world.GatherV<double>(inverse?.Diagonal() ?? [], diag, plan.Lengths(), 0);
            _done = 0;
            yield return new NamedArray("diag", f32 ? NdArray.Create(Array.ConvertAll(diag, x => (float)x), diag.Length) : NdArray.Create(diag, diag.Length));
            var layout = plan.Layout;
            foreach (var step in steps)
            {
                Go();
                var mine = step.Owner == 0 ? Pack(plan, inverse!, step, f32, 0) : [];
                var chunk = new byte[step.Bytes];
                world.GatherV(mine, chunk, Counts(world.Size, step.Owner, step.Bytes), 0);
                _done++;
                long at = 0;
                for (var k = 0; k < step.Count; k++)
                {
                    var b = step.First + k;
                    var c = layout.Size(b);
                    var n = c * c * (f32 ? 4 : 8);
                    var block = chunk.AsSpan((int)at, n);
                    var array = f32 ? NdArray.Create(MemoryMarshal.Cast<byte, float>(block).ToArray(), c, c) : NdArray.Create(MemoryMarshal.Cast<byte, double>(block).ToArray(), c, c);
                    at += n;
                    yield return new NamedArray($"block_{b.ToString(CultureInfo.InvariantCulture)}", array);
                    progress.Advance();
                }
            }
        }

        /// <summary>After a failed write: tells the ranks still waiting for a turn to stop.</summary>
        public void Stop()
        {
            if (_done < steps.Count)
            {
                Span<long> stop = [0];
                world.Broadcast(stop, 0);
            }
        }

        private void Go()
        {
            Span<long> go = [1];
            world.Broadcast(go, 0);
        }
    }
}
