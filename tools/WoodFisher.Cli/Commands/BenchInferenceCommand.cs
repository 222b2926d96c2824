using System.Text;
using System.Text.Json;
using WoodFisher.Models.Inference;

namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher bench-inference --model M [--baseline B] [--batch 1,64] [--runs 5] [--report F]</c>: latency and
/// throughput of the inference engine with dense weights (of M, or of the baseline model B, e.g. M before pruning) against
/// M's sparse ones (the file's formats, or each weight's smallest), per batch size, measured in the same process in
/// interleaved samples (<see cref="InferenceTiming"/>), and the stored weight bytes.
/// </summary>
internal sealed class BenchInferenceCommand : VerbCommand<BenchInferenceCommand.Settings>
{
    /// <summary>Test images the timed calls cycle through.</summary>
    private const int ImagePool = 1000;

    public sealed class Settings : ModelSettings
    {
        [CommandOption("--batch <B1,B2>"), Help("Batch sizes: 1 times the matrix-vector path, ≥ 2 the matrix-matrix one."), DefaultValue("1,64")]
        public string Batch { get; init; } = "";

        [CommandOption("--runs <N>"), Help("Runs per batch; each takes pairs of samples (one per engine, each sample every batch of the images once, repeated to last at least 1 ms) for --seconds per engine, and gives each engine's median sample and the median speed-up over its pairs; the table gives the median and range over runs."), DefaultValue(5)]
        public int Runs { get; init; }

        [CommandOption("--seconds <S>"), Help("Seconds of samples per engine and run."), DefaultValue(0.5)]
        public double Seconds { get; init; }

        [CommandOption("--clock <CLOCK>"), Help("wall (elapsed time) or cpu (the process's processor time: on a machine shared with other jobs it leaves out the time other processes held the cores, and counts every core a product used)."), DefaultValue("wall")]
        public string Clock { get; init; } = "";

        [CommandOption("--baseline <FILE>"), Help("Run the dense engine on this model instead (e.g. the model before pruning, or before its units were removed); it must take the same inputs.")]
        public string? Baseline { get; init; }

        [CommandOption("--report <FILE>"), Help("Also write the results: .json, or a Markdown table (.md).")]
        public string? Report { get; init; }
    }

    private sealed record Row(int Batch, string Engine, double MedianMs, double MinMs, double MaxMs, double SamplesPerSecond, long WeightBytes);

    private sealed record Ratio(int Batch, double Median, double Min, double Max, long CallsPerSample, int Pairs);

    protected override int Run(Settings s, VerbRun run, CancellationToken cancellationToken)
    {
        var batches = VerbSettings.Read("--batch", s.Batch, t => Pruning.Vocabulary.List(t, Pruning.Vocabulary.Count));
        var runs = VerbSettings.Check("--runs", s.Runs, Pruning.Vocabulary.Count);
        var seconds = VerbSettings.Check("--seconds", s.Seconds, Pruning.Vocabulary.Positive);
        var cpu = VerbSettings.Read("--clock", s.Clock, t => t.Trim().ToLowerInvariant() switch
        {
            "wall" => false,
            "cpu" => true,
            _ => throw new FormatException($"'{t}' is not a clock; use wall or cpu"),
        });
        var report = run.Outputs.File("--report", s.Report);
        var compressed = CliModels.LoadCompressed(s.Model, s.Arch);
        var baseline = s.Baseline is null ? compressed : CliModels.LoadCompressed(s.Baseline, null);
        var data = CliModels.LoadData(s.Data, "test");
        CliModels.CheckFits(compressed.Model, data);
        CliModels.CheckFits(baseline.Model, data);
        var largest = batches.Max();
        if (largest > data.Count)
            throw new UsageException($"--batch {largest}: {data.Name} holds only {data.Count} samples");

        var load = LoadAverage();
        var rows = new List<Row>();
        var ratios = new List<Ratio>();
        using var dense = baseline.CreateEngine(InferenceEngine.Dense, largest);
        using var sparse = compressed.CreateEngine(InferenceEngine.Sparse, largest);
        CliEngines.RecordRemovedUnits(sparse);
        foreach (var w in sparse.Weights)
            CliConsole.Record(("weight", w.Name), ("format", w.Format), ("shape", $"{w.Rows}x{w.Columns}"), ("nonzeros", w.NonZeros), ("bytes", w.StoredBytes), ("dense_bytes", 4L * w.Rows * w.Columns));
        foreach (var b in batches)
        {
            // A different batch of test images per call, the same sequence for both engines: the batch-1 kernels skip
            // windows of zero inputs, so one image timed over and over would time that image's zeros only.
            var x = data.Images.AsSpan(0, Math.Max(1, Math.Min(data.Count, ImagePool) / b) * b * data.Features).ToArray();
            var times = new Dictionary<string, List<double>> { ["dense"] = [], ["sparse"] = [] };
            var perRun = new List<double>();
            var pairs = 0;
            var timing = new InferenceTiming(dense, sparse, x, b, cpu, 0.1);
            using (var progress = CliProgress.Start($"batch {b}: {runs} runs of dense and sparse, {timing.CallsPerSample} calls a sample", runs))
            {
                for (var r = 0; r < runs; r++)
                {
                    var (d, sp, speedup, n) = timing.Run(seconds, cancellationToken);
                    times["dense"].Add(d);
                    times["sparse"].Add(sp);
                    perRun.Add(speedup);
                    pairs += n;
                    progress.Advance();
                }
            }

            foreach (var (name, engine) in new[] { ("dense", dense), ("sparse", sparse) })
            {
                var t = times[name];
                var median = InferenceTiming.Median(t);
                rows.Add(new Row(b, name, median * 1e3, t.Min() * 1e3, t.Max() * 1e3, b / median, engine.WeightBytes));
            }

            ratios.Add(new Ratio(b, InferenceTiming.Median(perRun), perRun.Min(), perRun.Max(), timing.CallsPerSample, pairs));
        }

        foreach (var r in rows)
        {
            CliConsole.Record(("batch", r.Batch), ("engine", r.Engine), ("latency_ms", Math.Round(r.MedianMs, 4)), ("min_ms", Math.Round(r.MinMs, 4)), ("max_ms", Math.Round(r.MaxMs, 4)),
                ("samples_per_s", Math.Round(r.SamplesPerSecond)), ("weight_bytes", r.WeightBytes));
        }
        foreach (var q in ratios)
            CliConsole.Record(("batch", q.Batch), ("speedup", Math.Round(q.Median, 3)), ("speedup_min", Math.Round(q.Min, 3)), ("speedup_max", Math.Round(q.Max, 3)), ("calls_per_sample", q.CallsPerSample), ("pairs", q.Pairs));
        var bytesRatio = (double)sparse.WeightBytes / dense.WeightBytes;
        var loadAfter = LoadAverage();
        CliConsole.Record(("model", compressed.Model.Spec), ("baseline", baseline.Model.Spec), ("clock", cpu ? "cpu" : "wall"), ("bytes_ratio", Math.Round(bytesRatio, 4)), ("load_before", load), ("load_after", loadAfter), ("runs", runs), ("cores", Environment.ProcessorCount));
        if (report is not null)
            CliFiles.WriteText(report, report.EndsWith(".md", StringComparison.OrdinalIgnoreCase)
                ? Markdown(compressed.Model.Spec, baseline.Model.Spec, cpu ? "processor" : "wall", rows, ratios, bytesRatio, load, loadAfter, runs)
                : JsonSerializer.Serialize(new { model = compressed.Model.Spec, baseline = baseline.Model.Spec, clock = cpu ? "cpu" : "wall", cores = Environment.ProcessorCount, runs, seconds_per_run = seconds, load_before = load, load_after = loadAfter, bytes_ratio = bytesRatio, weights = sparse.Weights, removed_units = sparse.RemovedUnits, rows, ratios },
                    new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
        return 0;
    }

    /// <summary>The 1-minute load average (/proc/loadavg), or null where there is none.</summary>
    private static double? LoadAverage()
    {
        try
        {
            return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    private static string Markdown(string spec, string baseline, string clock, List<Row> rows, List<Ratio> ratios, double bytesRatio, double? load, double? loadAfter, int runs)
    {
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"{spec} sparse against {baseline} dense, {clock} time: {runs} runs, {Environment.ProcessorCount} cores, load average {load?.ToString("0.0", CultureInfo.InvariantCulture) ?? "?"} → {loadAfter?.ToString("0.0", CultureInfo.InvariantCulture) ?? "?"}; weight bytes sparse/dense {bytesRatio:0.000}");
        md.AppendLine();
        md.AppendLine("| batch | engine | latency ms (median) | range over runs | samples/s | weight bytes |");
        md.AppendLine("|---:|---|---:|---|---:|---:|");
        foreach (var r in rows)
            md.AppendLine(CultureInfo.InvariantCulture, $"| {r.Batch} | {r.Engine} | {r.MedianMs:0.000} | {r.MinMs:0.000}–{r.MaxMs:0.000} | {r.SamplesPerSecond:0} | {r.WeightBytes} |");
        md.AppendLine();
        md.AppendLine("| batch | sparse speed-up (median) | range over runs |");
        md.AppendLine("|---:|---:|---|");
        foreach (var q in ratios)
            md.AppendLine(CultureInfo.InvariantCulture, $"| {q.Batch} | {q.Median:0.00}× | {q.Min:0.00}–{q.Max:0.00}× |");
        return md.ToString();
    }
}
