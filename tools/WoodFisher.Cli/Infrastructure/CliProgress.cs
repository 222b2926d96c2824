using System.Diagnostics;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace WoodFisher.Cli.Infrastructure;

/// <summary>
/// Progress of one long phase. On an interactive terminal a Spectre progress bar; otherwise plain lines on
/// stderr (<c>phase: 40% (400/1000) 3.2s</c>) at every 10% and at the end, so logs stay short and stdout
/// stays parse-friendly. Thread-safe: <see cref="Advance"/> may be called from worker threads.
/// <code>
/// using var p = CliProgress.Start("fisher blocks", blocks);
/// foreach (...) { ...; p.Advance(); }
/// </code>
/// </summary>
internal sealed class CliProgress : IDisposable
{
    private readonly string _phase;
    private readonly long _total;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Thread? _renderer;
    private readonly ManualResetEventSlim _ready = new();
    private readonly Lock _gate = new();
    private long _done;
    private int _lastDecile = -1;
    private volatile bool _finished;

    private CliProgress(string phase, long total, bool interactive)
    {
        _phase = phase;
        _total = Math.Max(0, total);
        if (interactive)
        {
            _renderer = new Thread(RenderLoop) { IsBackground = true, Name = "progress" };
            _renderer.Start();
            _ready.Wait();
        }
        else
        {
            Console.Error.WriteLine(_total > 0 ? $"{_phase}: started ({_total.ToString(CultureInfo.InvariantCulture)} steps)" : $"{_phase}: started");
        }
    }

    /// <summary>Starts a phase of <paramref name="total"/> steps (0 when unknown: only start and end are shown).</summary>
    public static CliProgress Start(string phase, long total) => new(phase, total, CliConsole.IsInteractive);

    /// <summary>Steps completed so far.</summary>
    public long Done => Interlocked.Read(ref _done);

    /// <summary>Marks <paramref name="steps"/> more steps done.</summary>
    public void Advance(long steps = 1)
    {
        long done = Interlocked.Add(ref _done, steps);
        if (_renderer is null && _total > 0)
        {
            int decile = (int)Math.Min(10, done * 10 / _total);
            lock (_gate)
            {
                if (decile > _lastDecile && decile < 10)
                {
                    _lastDecile = decile;
                    if (decile > 0)
                        WritePlain(done);
                }
            }
        }
    }

    /// <summary>The trainer's progress as this phase's steps: one per mini-batch; <paramref name="epochEnd"/> at each epoch's end.</summary>
    public IProgress<TrainingProgress> Batches(Action<TrainingProgress>? epochEnd = null) => new BatchSteps(this, epochEnd);

    /// <summary>Finishes the phase (prints the final line / completes the bar).</summary>
    public void Dispose()
    {
        if (_finished)
            return;
        _finished = true;
        if (_renderer is not null)
            _renderer.Join();
        else
        {
            var steps = _total > 0 ? $" ({Done.ToString(CultureInfo.InvariantCulture)} steps)" : "";
            Console.Error.WriteLine($"{_phase}: done{steps} {_clock.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)}s");
        }
        _ready.Dispose();
    }

    private void WritePlain(long done) =>
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{_phase}: {done * 100 / _total}% ({done}/{_total}) {_clock.Elapsed.TotalSeconds:0.0}s"));

    private void RenderLoop()
    {
        CliConsole.Ansi.Progress()
            .AutoClear(false)
            .Columns(Columns(CliConsole.Ansi.Profile.Width))
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(_phase), maxValue: Math.Max(1, _total));
                if (_total == 0)
                    task.IsIndeterminate = true;
                _ready.Set();
                while (!_finished)
                {
                    task.Value = Math.Min(Done, task.MaxValue);
                    Thread.Sleep(100);
                }
                task.Value = task.MaxValue;
                task.StopTask();
            });
    }

    private sealed class BatchSteps(CliProgress bar, Action<TrainingProgress>? epochEnd) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value)
        {
            if (!value.IsEpochEnd)
                bar.Advance();
            else
                epochEnd?.Invoke(value);
        }
    }

    /// <summary>Width of the bar in cells: readable at 80 columns, never the 3 cells a squeezed default leaves.</summary>
    internal const int BarWidth = 20;

    /// <summary>
    /// The columns of one progress line that fits <paramref name="width"/> cells without wrapping: the phase (cut with an
    /// ellipsis), a bar of <see cref="BarWidth"/> cells, the percentage, and the elapsed time with the time left while
    /// running (the elapsed time alone once finished).
    /// </summary>
    internal static ProgressColumn[] Columns(int width)
    {
        // Fixed parts: bar, " 100%", " 12:34 left 12:34", and the column gaps.
        var description = Math.Max(12, width - BarWidth - 5 - TimeColumn.Width - 4);
        return [new PhaseColumn(description), new ProgressBarColumn { Width = BarWidth }, new PercentageColumn(), new TimeColumn()];
    }

    private sealed class PhaseColumn(int width) : ProgressColumn
    {
        protected override bool NoWrap => true;

        public override int? GetColumnWidth(RenderOptions options) => width;

        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime)
        {
            var text = Markup.Remove(task.Description);
            return new Text(text.Length <= width ? text : text[..(width - 1)] + "…");
        }
    }

    /// <summary>Elapsed time, plus the estimated time left while running; a finished task shows how long it took.</summary>
    internal sealed class TimeColumn : ProgressColumn
    {
        public const int Width = 16;

        protected override bool NoWrap => true;

        public override int? GetColumnWidth(RenderOptions options) => Width;

        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) => new Text(Describe(task.ElapsedTime, task.IsFinished ? null : task.RemainingTime));

        public static string Describe(TimeSpan? elapsed, TimeSpan? left)
        {
            var e = Clock(elapsed ?? TimeSpan.Zero);
            return left is { } l && l > TimeSpan.Zero && l < TimeSpan.FromDays(1) ? $"{e} left {Clock(l)}" : e;
        }

        private static string Clock(TimeSpan t) => t.TotalHours >= 1
            ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}")
            : string.Create(CultureInfo.InvariantCulture, $"{t.Minutes}:{t.Seconds:00}");
    }
}
