using System.Diagnostics;
using System.Text.Json;
using Spectre.Console;

namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher bench</c>: times each WoodFisher strategy and backend over a grid of (c, m, d) against the dense inverse
/// measured in the same run, with GFLOP/s (4c²m per block) as a share of the machine's measured FMA peak, and optionally
/// against the NumPy baseline <c>bench/numpy/fisher_baseline.py</c> on the same shapes.
/// </summary>
internal sealed class BenchCommand : VerbCommand<BenchCommand.Settings>
{
    internal static readonly (int C, int M, int D)[] DefaultGrid = [(32, 64, 128), (128, 256, 512), (128, 1024, 512), (512, 256, 2048), (512, 1024, 2048)];
    internal static readonly (int C, int M, int D)[] QuickGrid = [(32, 64, 128), (64, 128, 256)];

    /// <summary>
    /// Without a CUDA/OpenCL device ILGPU runs on its CPU accelerator, where every kernel launch costs about a millisecond
    /// (rank-1 launches per gradient): only cells this small are timed.
    /// </summary>
    private static bool SmallEnoughForIlgpuCpu((int C, int M, int D) cell) => cell.C <= 64 && cell.M <= 64 && cell.D <= 128;

    private static readonly WoodburyStrategy[] Strategies = [WoodburyStrategy.Rank1, WoodburyStrategy.RankK, WoodburyStrategy.Auto];

    public sealed class Settings : VerbSettings
    {
        [CommandOption("--quick"), Help("A small grid, one repeat: seconds (for tests and CI).")]
        public bool Quick { get; init; }

        [CommandOption("--grid <CELLS>"), Help("Cells c:m:d separated by commas, e.g. 128:256:512,512:1024:2048.")]
        public string? Grid { get; init; }

        [CommandOption("--backend <LIST>"), Help("cpu, ilgpu or cpu,ilgpu (default: cpu, plus ilgpu when a CUDA/OpenCL device exists or with --quick).")]
        public string? Backend { get; init; }

        [CommandOption("--repeats <N>"), Help("Timed runs per cell after one warm-up; the best is reported (default 3, 1 with --quick).")]
        public int? Repeats { get; init; }

        [CommandOption("--numpy"), Help("Also time bench/numpy/fisher_baseline.py (/usr/bin/python3 with NumPy) on the same shapes.")]
        public bool Numpy { get; init; }

        [CommandOption("--calibrate"), Help("Measure the cost model of --strategy auto on this machine (kernel efficiencies at c = 32…1024) and print it as C# source.")]
        public bool Calibrate { get; init; }

        [CommandOption("--report <FILE>"), Help("Write the results as JSON.")]
        public string? Report { get; init; }
    }

    internal sealed record NumpyResult(int BlockSize, int Rows, int Dimension, double Seconds, double GFlops, string Blas);

    protected override int Run(Settings settings, VerbRun run, CancellationToken cancellationToken)
    {
        var report = run.Outputs.File("--report", settings.Report);
        if (settings.Calibrate)
            return Calibrate(settings, report);

        var grid = settings.Grid is { } g ? ParseGrid(g) : settings.Quick ? QuickGrid : DefaultGrid;
        int repeats = settings.Repeats ?? (settings.Quick ? 1 : 3);
        if (repeats < 1)
            throw new UsageException($"--repeats must be at least 1 (got {repeats})");
        var hasDevice = IlgpuBackendFactory.HasDevice;
        var kinds = settings.Backend is { } b
            ? VerbSettings.Read("--backend", b, t => Pruning.Vocabulary.List(t, Pruning.Vocabulary.Backend)).Select(WoodFisher.Kernels.Backends.Resolve).Distinct().ToList()
            : hasDevice || settings.Quick ? [BackendKind.Cpu, BackendKind.Ilgpu] : [BackendKind.Cpu];
        var notes = new List<string>();

        var peak = KernelBenchmark.MeasurePeakGflops(Precision.Float32);
        var results = new List<KernelBenchmarkResult>();
        using (var progress = CliProgress.Start("bench", (long)grid.Count * kinds.Count))
        {
            foreach (var kind in kinds)
            {
                foreach (var cell in grid)
                {
                    if (kind == BackendKind.Ilgpu && !hasDevice && !SmallEnoughForIlgpuCpu(cell))
                    {
                        notes.Add($"ilgpu skipped at c={cell.C} m={cell.M} d={cell.D}: no CUDA/OpenCL device, and ILGPU's CPU accelerator is only timed for c ≤ 64, m ≤ 64, d ≤ 128");
                        progress.Advance();
                        continue;
                    }
                    results.AddRange(KernelBenchmark.Run([cell], Strategies, Precision.Float32, kind, repeats));
                    progress.Advance();
                }
            }
        }
        if (kinds.Contains(BackendKind.Ilgpu) && !hasDevice)
            notes.Add("ilgpu ran on ILGPU's CPU accelerator (no CUDA/OpenCL device): a correctness path, not a fast one");

        var numpy = new List<NumpyResult>();
        if (settings.Numpy)
        {
            if (NumpyBaseline.Locate(out var python, out var script, out var why))
            {
                foreach (var cell in grid)
                    numpy.Add(NumpyBaseline.Run(python, script, cell.C, cell.M, cell.D, repeats));
            }
            else
            {
                notes.Add($"--numpy: {why}");
            }
        }

        Print(results, numpy, peak, notes);
        if (report is not null)
            CliFiles.WriteText(report, ToJson(results, numpy, peak, notes));
        return 0;
    }

    internal static IReadOnlyList<(int C, int M, int D)> ParseGrid(string text)
    {
        var cells = new List<(int, int, int)>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var f = part.Split(':');
            if (f.Length != 3
                || !int.TryParse(f[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var c) || c < 1
                || !int.TryParse(f[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var m) || m < 1
                || !int.TryParse(f[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var d) || d < 1)
            {
                throw new UsageException($"--grid: '{part}' is not c:m:d with positive integers (e.g. 128:256:512)");
            }
            cells.Add((c, m, d));
        }
        if (cells.Count == 0)
            throw new UsageException("--grid: no cells given (e.g. 128:256:512,512:1024:2048)");
        return cells;
    }

    /// <summary>"auto→dense": Auto is shown with the strategy its cost model picked, so a gap to that row is noise.</summary>
    private static string StrategyName(KernelBenchmarkResult r) => r.Strategy == WoodburyStrategy.Auto
        ? "auto→" + r.Resolved.ToString().ToLowerInvariant()
        : r.Strategy.ToString().ToLowerInvariant();

    /// <summary>
    /// <c>--calibrate</c>: the efficiencies of <see cref="StrategyCostModel"/> measured here, one line per block size, then
    /// the model as C# source (the form <see cref="StrategyCostModel.Default"/> is written in).
    /// </summary>
    private static int Calibrate(Settings settings, string? report)
    {
        var repeats = settings.Repeats ?? 3;
        if (repeats < 1)
            throw new UsageException($"--repeats must be at least 1 (got {repeats})");
        int[] sizes = settings.Quick ? [32, 64] : [32, 64, 128, 256, 512, 1024];
        CliConsole.Line("# cost-model efficiencies: shares of the float32 FMA micro-kernel peak (rank1, rankK: Woodbury updates; gram32/gram64: Dense Gram; inverse: float32 Cholesky inverse, float64 at half its rate)");
        var model = KernelBenchmark.CalibrateCostModel(sizes, repeats, line => CliConsole.Line("# " + line));
        CliConsole.Line(model.ToSource());
        if (report is not null)
            CliFiles.WriteText(report, JsonSerializer.Serialize(new { block_sizes = model.BlockSizes, source = model.ToSource() }, new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return 0;
    }

    private static NumpyResult? Match(IEnumerable<NumpyResult> numpy, KernelBenchmarkResult r) =>
        numpy.FirstOrDefault(n => n.BlockSize == r.BlockSize && n.Rows == r.Rows && n.Dimension == r.Dimension);

    private static void Print(List<KernelBenchmarkResult> results, List<NumpyResult> numpy, double peak, List<string> notes)
    {
        var inv = CultureInfo.InvariantCulture;
        var caption = string.Create(inv, $"peak {peak:F1} GFLOP/s float32 (FMA micro-kernel, {Environment.ProcessorCount} cores); GFLOP/s counts 4c²m per block; speed-ups are time ratios (> 1: faster)");
        string[] header = ["backend", "strategy", "c", "m", "d", "seconds", "GFLOP/s", "% peak", "vs dense", .. numpy.Count > 0 ? new[] { "numpy s", "vs numpy" } : []];
        var rows = results.Select(r =>
        {
            var np = Match(numpy, r);
            string[] cols =
            [
                r.Backend, StrategyName(r),
                r.BlockSize.ToString(inv), r.Rows.ToString(inv), r.Dimension.ToString(inv),
                r.Seconds.ToString("F4", inv), r.GFlops.ToString("F1", inv), (100 * r.GFlops / peak).ToString("F0", inv) + "%",
                r.SpeedupVsDense.ToString("F2", inv),
                .. numpy.Count > 0 ? new[] { np?.Seconds.ToString("F4", inv) ?? "-", np is null ? "-" : (np.Seconds / r.Seconds).ToString("F2", inv) } : [],
            ];
            return cols;
        }).ToList();

        if (CliConsole.IsInteractive)
        {
            var table = new Table().Caption(Markup.Escape(caption));
            foreach (var h in header)
                table.AddColumn(h is "backend" or "strategy" ? new TableColumn(h) : new TableColumn(h).RightAligned());
            foreach (var r in rows)
                table.AddRow(r.Select(Markup.Escape).ToArray());
            CliConsole.Render(table);
        }
        else
        {
            CliConsole.Line("# " + caption);
            CliConsole.Line(string.Join('\t', header));
            foreach (var r in rows)
                CliConsole.Line(string.Join('\t', r));
        }
        foreach (var n in numpy)
            CliConsole.Line(string.Create(inv, $"# numpy c={n.BlockSize} m={n.Rows} d={n.Dimension}: {n.Seconds:F4} s, {n.GFlops:F1} GFLOP/s ({n.Blas})"));
        foreach (var note in notes)
            CliConsole.Line("# note: " + note);
    }

    private static string ToJson(List<KernelBenchmarkResult> results, List<NumpyResult> numpy, double peak, List<string> notes)
    {
        var doc = new
        {
            machine = new { cores = Environment.ProcessorCount, os = System.Runtime.InteropServices.RuntimeInformation.OSDescription, peak_gflops_f32 = peak },
            results = results.Select(r => new
            {
                backend = r.Backend,
                strategy = r.Strategy.ToString().ToLowerInvariant(),
                auto_picks = r.Strategy == WoodburyStrategy.Auto ? r.Resolved.ToString().ToLowerInvariant() : null,
                precision = r.Precision == Precision.Float32 ? "f32" : "f64",
                c = r.BlockSize,
                m = r.Rows,
                d = r.Dimension,
                seconds = r.Seconds,
                gflops = r.GFlops,
                percent_of_peak = 100 * r.GFlops / peak,
                speedup_vs_dense = r.SpeedupVsDense,
                speedup_vs_numpy = Match(numpy, r) is { } n ? n.Seconds / r.Seconds : (double?)null,
            }),
            numpy = numpy.Select(n => new { c = n.BlockSize, m = n.Rows, d = n.Dimension, seconds = n.Seconds, gflops = n.GFlops, blas = n.Blas }),
            notes,
        };
        return JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }
}

/// <summary>Runs <c>bench/numpy/fisher_baseline.py</c> (found by walking up from the executable) with /usr/bin/python3.</summary>
internal static class NumpyBaseline
{
    public const string Python = "/usr/bin/python3";
    public const string ScriptPath = "bench/numpy/fisher_baseline.py";

    public static bool Locate(out string python, out string script, out string why)
    {
        python = Python;
        script = "";
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, ScriptPath);
            if (File.Exists(candidate))
            {
                script = candidate;
                break;
            }
        }
        if (script.Length == 0)
        {
            why = $"{ScriptPath} not found above {AppContext.BaseDirectory}; run from a checkout of the repository";
            return false;
        }
        if (!File.Exists(python))
        {
            why = $"{python} not found; the NumPy baseline was not run";
            return false;
        }
        var (code, _, err) = Exec(python, ["-c", "import numpy"]);
        why = code == 0 ? "" : $"{python} has no NumPy ({err.Trim().Split('\n')[^1]}); the NumPy baseline was not run";
        return code == 0;
    }

    public static BenchCommand.NumpyResult Run(string python, string script, int c, int m, int d, int repeats)
    {
        var inv = CultureInfo.InvariantCulture;
        var (code, stdout, stderr) = Exec(python, [script, "--m", m.ToString(inv), "--d", d.ToString(inv), "--block", c.ToString(inv), "--repeat", repeats.ToString(inv)]);
        if (code != 0)
            throw new InvalidOperationException($"{script} failed with exit code {code}: {stderr.Trim().Split('\n')[^1]}");
        var line = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        var blas = root.TryGetProperty("blas", out var b) ? string.Join(";", b.EnumerateArray().Select(x => x.ToString())) : "unknown";
        return new BenchCommand.NumpyResult(c, m, d, root.GetProperty("seconds").GetDouble(), root.GetProperty("gflops").GetDouble(), blas);
    }

    private static (int Code, string Out, string Err) Exec(string file, string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        // Some machines set these to work around old OpenBLAS bugs; they also cripple its kernels, so unset them here.
        psi.Environment.Remove("OPENBLAS_CORETYPE");
        psi.Environment.Remove("OPENBLAS_L2_SIZE");
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output, err.Result);
    }
}
