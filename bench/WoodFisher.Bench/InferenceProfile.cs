using System.Diagnostics;
using System.Globalization;
using WoodFisher.Kernels;
using WoodFisher.Kernels.Sparse;
using WoodFisher.Models;
using WoodFisher.Models.Inference;

namespace WoodFisher.Bench;

/// <summary>
/// Where the inference engine's time goes: each Linear weight's product alone, in its sparse format (as
/// <see cref="WeightFormats.Compress"/> picks it) and dense from the baseline model, then the whole engine both ways. Each
/// layer's figure is the least time of one call over many blocks of four calls: on a shared machine the least time is the
/// one no other job interrupted, so it measures the code, not the load. The engine runs the first 1,000 test images in
/// fixed groups of consecutive calls (about 20 groups, the same for both engines); its figure is the sum over groups of
/// each group's least time, per call: every image counts once (the batch-1 kernels skip windows of zero inputs, so a least
/// time over arbitrary blocks would pick the easiest images), and a group is short enough to run uninterrupted. Last, the
/// medians of whole calls inside the engine against their products and the rest (<see cref="Breakdown"/>). Run:
/// <c>dotnet run -c Release --project bench/WoodFisher.Bench -- inference-profile PRUNED.safetensors BASELINE.safetensors [batch] [blocks]</c>
/// (PRUNED: the pruned model, saved dense or compressed).
/// </summary>
public static class InferenceProfile
{
    public static void Run(string[] args)
    {
        var pruned = CompressedModelFiles.Load(args[0]);
        var baseline = ModelFiles.Load(args[1]);
        var batch = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1;
        var blocks = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : (batch == 1 ? 6000 : 300);
        // The sparse engine's layers: hidden units with all-zero incoming weights folded into the next layer's bias.
        var state = NeuronRemoval.WithoutZeroUnits(pruned.Model).Model.StateDict();
        var dense = baseline.StateDict();
        Console.WriteLine($"batch {batch}; least time of one call over {blocks} blocks of 4 calls, microseconds");
        foreach (var (name, t) in state)
        {
            if (!name.EndsWith("weight", StringComparison.Ordinal) || t.Shape.Length != 2 || !dense.TryGetValue(name, out var d))
                continue;
            var (rows, cols, drows, dcols) = (t.Shape[0], t.Shape[1], d.Shape[0], d.Shape[1]);
            var sparse = WeightFormats.Compress(t.Data, rows, cols);
            var denseWeights = new DenseWeights(drows, dcols, d.Data);
            var rng = new Random(1);
            // 64-byte aligned, as the engine's activations are: a register load across two cache lines costs two.
            using var xa = new AlignedFloats((long)Math.Max(cols, dcols) * batch);
            using var ya = new AlignedFloats((long)Math.Max(rows, drows) * batch);
            var x = xa.Span;
            for (var i = 0; i < x.Length; i++)
                x[i] = (float)rng.NextDouble();
            var bias = new float[Math.Max(rows, drows)];
            var ts = Least(blocks, () => Product(sparse, xa, ya, bias, batch));
            var td = Least(blocks, () => Product(denseWeights, xa, ya, bias, batch));
            // The sliding batch-1 layout's steps of 16 rows (padding included) and window, for CSR matrices on a path with one.
            var window = SimdPaths.Current switch { SimdPath.Avx512 => 16, SimdPath.Avx2 => 8, _ => 0 };
            var layout = sparse is CsrMatrix csr && window > 0 && SlidingRows.Supported(window)
                ? SlidingRows.TryBuild(window, rows, cols, csr.Values.ToArray(), csr.ColumnIndices.ToArray(), csr.RowPointers.ToArray())
                : null;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-14} {WeightFormats.Name(sparse),-7} {rows}x{cols}: {ts,9:0.000}   dense {drows}x{dcols}: {td,9:0.000}   ratio {td / ts:0.00}{(layout is null ? "" : $"   steps {layout.Steps}, windows of {layout.Window}")}"));
        }

        using var sparseEngine = pruned.CreateEngine(InferenceEngine.Sparse, batch);
        using var denseEngine = InferenceModel.Create(baseline, InferenceEngine.Dense, batch);
        // Real test images, a different batch per call: the batch-1 kernels skip inputs that are zero, so the input matters.
        var images = WoodFisher.Models.Data.DataSets.Load(null, "test");
        var features = sparseEngine.InputShape.Aggregate(1, (a, b) => a * b);
        var pool = Math.Max(1, Math.Min(images.Count, 1000) / batch);
        var logits = new float[sparseEngine.NumClasses * batch];
        var group = (pool + 19) / 20;
        double Groups(InferenceModel e)
        {
            var sum = 0.0;
            for (var g0 = 0; g0 < pool; g0 += group)
            {
                var g1 = Math.Min(pool, g0 + group);
                sum += Least(Math.Max(10, blocks * 4 / pool), () =>
                {
                    for (var i = g0; i < g1; i++)
                        e.Logits(images.Images.AsSpan(i * batch * features, batch * features), batch, logits);
                }, g1 - g0) * (g1 - g0);
            }

            return sum / pool;
        }

        // Warm-up: the engine's own code (Logits, the layers) is compiled in tiers, the final tier after some 100 ms of calls.
        foreach (var e in new[] { sparseEngine, denseEngine })
        {
            var clock = Stopwatch.StartNew();
            for (var i = 0; clock.ElapsedMilliseconds < 300; i = (i + 1) % pool)
                e.Logits(images.Images.AsSpan(i * batch * features, batch * features), batch, logits);
        }

        for (var round = 0; round < 3; round++)
        {
            var ts = Groups(sparseEngine);
            var td = Groups(denseEngine);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"engine         sparse {ts,9:0.000}   dense {td,9:0.000}   ratio {td / ts:0.00}"));
        }

        Breakdown(pruned, baseline, images.Images, features, batch, pool);
    }

    /// <summary>
    /// Inside the engine: each call of two engines built with every weight wrapped in a clock, alternating call by call over the
    /// images, and per engine the median of the whole call, of its products and of the rest (input transposes, those a first
    /// product's parts run included, activations, the splits' start and join as far as they fall outside the products,
    /// logits). Products timed alone, back to back, find the pool threads awake; inside the engine the other layers run
    /// between them.
    /// </summary>
    private static void Breakdown(CompressedModel pruned, IModel<float> baseline, float[] images, int features, int batch, int pool)
    {
        const int calls = 2000;
        var clocks = new List<TimedWeights>[] { [], [] };
        var stored = pruned.Weights.ToDictionary(w => w.Name, w => w.Matrix, StringComparer.Ordinal);
        using var sparse = InferenceModel.Create(pruned.Model, (name, d, r, c) => Clocked(clocks[0], CompressedModel.SparseWeight(stored, name, d, r, c), calls), batch, foldConstantUnits: true);
        using var dense = InferenceModel.Create(baseline, (_, d, r, c) => Clocked(clocks[1], new DenseWeights(r, c, d), calls), batch);
        var engines = new[] { sparse, dense };
        var totals = new long[2, calls];
        var logits = new float[sparse.NumClasses * batch];
        for (var pass = 0; pass < 2; pass++)
        {
            foreach (var c in clocks.SelectMany(l => l))
                c.Reset();
            for (var i = 0; i < calls; i++)
            {
                for (var k = 0; k < 2; k++)
                {
                    foreach (var c in clocks[k])
                        c.Call = i;
                    var t0 = Stopwatch.GetTimestamp();
                    engines[k].Logits(images.AsSpan(i % pool * batch * features, batch * features), batch, logits);
                    totals[k, i] = Stopwatch.GetTimestamp() - t0;
                }
            }
        }

        for (var k = 0; k < 2; k++)
        {
            // A product run in parts at once counts as its slowest part (each clock keeps the longest per call).
            static long Layer(TimedWeights c, int call) => c.Ticks[call];
            var products = Enumerable.Range(0, calls).Select(i => clocks[k].Sum(c => Layer(c, i))).ToArray();
            var rest = Enumerable.Range(0, calls).Select(i => totals[k, i] - products[i]).ToArray();
            var layers = string.Join(", ", clocks[k].Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Rows}x{c.Columns} {Median([.. Enumerable.Range(0, calls).Select(i => Layer(c, i))]):0.0}")));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"inside {(k == 0 ? "sparse" : "dense "),-7} call {Median(Enumerable.Range(0, calls).Select(i => totals[k, i]).ToArray()),8:0.0}   products {Median(products),8:0.0} ({layers})   rest {Median(rest),7:0.0}   (medians of {calls} calls, µs)"));
        }
    }

    private static TimedWeights Clocked(List<TimedWeights> list, IWeightMatrix w, int calls)
    {
        var t = w is IRowRangeProduct ? new TimedRanges(w, calls) : new TimedWeights(w, calls);
        list.Add(t);
        return t;
    }

    private static double Median(long[] ticks)
    {
        var s = (long[])ticks.Clone();
        Array.Sort(s);
        return s[s.Length / 2] * 1e6 / Stopwatch.Frequency;
    }

    private static void Product(IWeightMatrix w, AlignedFloats xa, AlignedFloats ya, float[] bias, int batch)
    {
        var x = xa.Span;
        var y = ya.Span;
        if (batch == 1)
            w.MultiplyVector(x[..w.Columns], y[..w.Rows], bias.AsSpan(0, w.Rows));
        else
            w.Multiply(x[..(w.Columns * batch)], batch, y[..(w.Rows * batch)], bias.AsSpan(0, w.Rows));
    }

    /// <summary>Least time over <paramref name="blocks"/> blocks of four calls (one call when <paramref name="callsPerBlock"/> is given: a call that makes that many), per call.</summary>
    private static double Least(int blocks, Action call, int callsPerBlock = 0)
    {
        var (repeat, per) = callsPerBlock > 0 ? (1, callsPerBlock) : (4, 4);
        for (var i = 0; i < Math.Max(3, 100 / per); i++)
            call();
        var best = long.MaxValue;
        for (var b = 0; b < blocks; b++)
        {
            var t0 = Stopwatch.GetTimestamp();
            for (var r = 0; r < repeat; r++)
                call();
            best = Math.Min(best, Stopwatch.GetTimestamp() - t0);
        }

        return best * 1e6 / Stopwatch.Frequency / per;
    }

    /// <summary>
    /// A weight matrix that records, per engine call (<see cref="Call"/>, set before each), the time of its product: of the
    /// slowest part where the call runs it in parts at once (a batch split by samples, or the row ranges of a first product
    /// run from the samples as given).
    /// </summary>
    private class TimedWeights(IWeightMatrix w, int calls) : IWeightMatrix
    {
        public long[] Ticks { get; } = new long[calls];

        /// <summary>The engine call the next products belong to.</summary>
        public int Call { get; set; }

        protected IWeightMatrix Inner => w;

        public void Reset() => Array.Clear(Ticks);

        public int Rows => w.Rows;

        public int Columns => w.Columns;

        public WeightFormat Format => w.Format;

        public long StoredValues => w.StoredValues;

        public long StoredBytes => w.StoredBytes;

        public void MultiplyVector(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> bias = default, bool relu = false)
        {
            var t0 = Stopwatch.GetTimestamp();
            w.MultiplyVector(x, y, bias, relu);
            Record(Stopwatch.GetTimestamp() - t0);
        }

        public void Multiply(ReadOnlySpan<float> b, int n, Span<float> c, ReadOnlySpan<float> bias = default, bool relu = false)
        {
            var t0 = Stopwatch.GetTimestamp();
            w.Multiply(b, n, c, bias, relu);
            Record(Stopwatch.GetTimestamp() - t0);
        }

        public float[] ToDense() => w.ToDense();

        /// <summary>Keeps the longest time recorded for the current call (parts run at once, so the slot is updated atomically).</summary>
        protected void Record(long ticks)
        {
            ref var slot = ref Ticks[Call % Ticks.Length];
            for (var seen = Volatile.Read(ref slot); ticks > seen; seen = Volatile.Read(ref slot))
            {
                if (Interlocked.CompareExchange(ref slot, ticks, seen) == seen)
                    break;
            }
        }
    }

    /// <summary>As <see cref="TimedWeights"/> for a matrix whose rows run in ranges, so that the engine keeps its first product's split.</summary>
    private sealed class TimedRanges(IWeightMatrix w, int calls) : TimedWeights(w, calls), IRowRangeProduct
    {
        public int RowUnit => ((IRowRangeProduct)Inner).RowUnit;

        public unsafe void MultiplyRows(float* b, int n, float* c, float* bias, bool relu, int r0, int r1)
        {
            var t0 = Stopwatch.GetTimestamp();
            ((IRowRangeProduct)Inner).MultiplyRows(b, n, c, bias, relu, r0, r1);
            Record(Stopwatch.GetTimestamp() - t0);
        }
    }
}
