using System.Diagnostics;
using WoodFisher.Models.Inference;

namespace WoodFisher.Cli.Commands;

/// <summary>
/// Times two inference engines against each other in one process, in pairs of samples. A sample is a fixed number of
/// calls, enough for the faster engine's sample to last at least <see cref="MinSampleSeconds"/> (long against the
/// clock's resolution, short against the scheduler's time slice, so that most samples run uninterrupted on a shared
/// machine), each call on the next batch of the image pool; the two samples of a pair run the same batches (the sparse
/// batch-1 kernels skip windows of zero inputs, so both must see the same images) back to back, alternating which goes
/// first, so that a load swing hits both engines alike, and successive pairs move on through the pool. A run's latency
/// for an engine is the median over its samples, and its speed-up the median over pairs of the pair's ratio.
/// </summary>
internal sealed class InferenceTiming
{
    /// <summary>Least length of a sample.</summary>
    public const double MinSampleSeconds = 0.001;

    /// <summary>Least pairs per run.</summary>
    private const int MinPairs = 3;

    private readonly InferenceModel _first;
    private readonly InferenceModel _second;
    private readonly float[] _x;
    private readonly int _batch;
    private readonly int _features;
    private readonly int _batches;
    private readonly float[] _logits;
    private readonly bool _cpu;
    private int _next;

    /// <summary>Warms both engines up (JIT, caches) for about <paramref name="warmSeconds"/> each and sizes the samples.</summary>
    /// <param name="first">The first engine (the dense one).</param>
    /// <param name="second">The second engine (the sparse one).</param>
    /// <param name="x">The image pool: whole batches of <paramref name="batch"/> samples.</param>
    /// <param name="batch">Samples per call.</param>
    /// <param name="cpu">Measure process processor time rather than wall time.</param>
    /// <param name="warmSeconds">Wall time of repeated passes per engine before timing.</param>
    public InferenceTiming(InferenceModel first, InferenceModel second, float[] x, int batch, bool cpu, double warmSeconds)
    {
        (_first, _second, _x, _batch, _cpu) = (first, second, x, batch, cpu);
        _features = first.InputShape.Aggregate(1, (a, b) => a * b);
        _batches = x.Length / (batch * _features);
        _logits = new float[batch * Math.Max(first.NumClasses, second.NumClasses)];
        var fastest = double.MaxValue;
        foreach (var engine in new[] { first, second })
        {
            var clock = Stopwatch.StartNew();
            var calls = 0;
            do
            {
                // Blocks of 16 calls: the least block is the engine's time with no other job in the way.
                var t0 = Stopwatch.GetTimestamp();
                Calls(engine, calls, 16);
                fastest = Math.Min(fastest, (double)(Stopwatch.GetTimestamp() - t0) / Stopwatch.Frequency / 16);
                calls += 16;
            }
            while (calls < 64 || clock.Elapsed.TotalSeconds < warmSeconds);
        }

        CallsPerSample = (int)Math.Clamp(Math.Ceiling(MinSampleSeconds / Math.Max(fastest, 1e-9)), 1, 1_000_000);
    }

    /// <summary>Calls per sample.</summary>
    public int CallsPerSample { get; }

    /// <summary>
    /// One run: pairs of samples for at least <paramref name="seconds"/> of wall time per engine (and at least three
    /// pairs). Returns each engine's median seconds per call over its samples, the median over pairs of the first
    /// engine's time over the second's, and the pairs taken.
    /// </summary>
    public (double First, double Second, double Speedup, int Pairs) Run(double seconds, CancellationToken cancellationToken)
    {
        var (first, second, ratio) = (new List<double>(), new List<double>(), new List<double>());
        var clock = Stopwatch.StartNew();
        while (ratio.Count < MinPairs || clock.Elapsed.TotalSeconds < 2 * seconds)
        {
            cancellationToken.ThrowIfCancellationRequested();
            double a, b;
            var start = _next;
            _next = (int)((_next + (long)CallsPerSample) % _batches);
            if (ratio.Count % 2 == 0)
            {
                a = Sample(_first, start);
                b = Sample(_second, start);
            }
            else
            {
                b = Sample(_second, start);
                a = Sample(_first, start);
            }

            first.Add(a);
            second.Add(b);
            ratio.Add(a / b);
        }

        return (Median(first) / CallsPerSample, Median(second) / CallsPerSample, Median(ratio), ratio.Count);
    }

    /// <summary>The median of <paramref name="v"/> (the mean of the middle two for an even count).</summary>
    public static double Median(IReadOnlyCollection<double> v)
    {
        var s = v.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[(s.Length / 2) - 1] + s[s.Length / 2]);
    }

    /// <summary>Seconds (wall or processor) of one sample of <paramref name="engine"/> from batch <paramref name="start"/> of the pool on.</summary>
    private double Sample(InferenceModel engine, int start)
    {
        var t0 = _cpu ? Environment.CpuUsage.TotalTime.TotalSeconds : 0;
        var w0 = Stopwatch.GetTimestamp();
        Calls(engine, start, CallsPerSample);
        return _cpu ? Environment.CpuUsage.TotalTime.TotalSeconds - t0 : (double)(Stopwatch.GetTimestamp() - w0) / Stopwatch.Frequency;
    }

    /// <summary><paramref name="count"/> calls on the pool's batches from <paramref name="start"/> on, wrapping around.</summary>
    private void Calls(InferenceModel engine, int start, int count)
    {
        var n = _batch * _features;
        for (int c = 0, i = start % _batches; c < count; c++, i = i + 1 == _batches ? 0 : i + 1)
        {
            engine.Logits(_x.AsSpan(i * n, n), _batch, _logits);
        }
    }
}
