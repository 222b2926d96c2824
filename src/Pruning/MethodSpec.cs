namespace WoodFisher.Pruning;

/// <summary>
/// A method as written on a command line or in a study: <c>name[:key=value,...]</c>, the name from the
/// <see cref="PruningMethod"/> registry and the keys below, each read only by the methods that list it in
/// <see cref="PruningMethod.Keys"/>. Keys are the CLI's option names without <c>--</c>, and a verb's option gives the
/// default of its key: <c>--block 200 --method woodfisher,woodfisher:block=50</c> builds c = 200 and c = 50.
/// <list type="table">
/// <item><term>estimate</term><description>block, damping, samples, minibatch, seed, strategy (auto, rank1, rankk, dense),
/// backend (cpu, ilgpu, auto), precision (float32, float64), treatment (abs, clip, damping), name (a label)</description></item>
/// <item><term>pruning</term><description>update (none, independent, joint), selection (global, layerwise), recompute,
/// stepping (cubic, linear), taylor-step</description></item>
/// </list>
/// </summary>
/// <param name="Estimator">What H⁻¹ to build.</param>
/// <param name="Pruning">How to prune with it; its <see cref="PrunerOptions.Method"/> is <paramref name="Estimator"/>'s.</param>
public sealed record MethodSpec(EstimatorSpec Estimator, PrunerOptions Pruning)
{
    /// <summary>The key that sets a label (every method reads it).</summary>
    public const string NameKey = "name";

    private static readonly string[] PruningKeys = ["update", "selection", "recompute", "stepping", "taylor-step"];

    private static readonly Dictionary<string, Func<MethodSpec, string, MethodSpec>> Readers = new(StringComparer.Ordinal)
    {
        ["block"] = (s, v) => s.WithEstimator(s.Estimator with { BlockSize = Vocabulary.BlockSize(v) }),
        ["damping"] = (s, v) => s.WithEstimator(s.Estimator with { Damping = Vocabulary.Damping(v) }),
        ["samples"] = (s, v) => s.WithEstimator(s.Estimator with { Samples = Vocabulary.Count(v) }),
        ["minibatch"] = (s, v) => s.WithEstimator(s.Estimator with { MiniBatch = Vocabulary.Count(v) }),
        ["seed"] = (s, v) => s.WithEstimator(s.Estimator with { Seed = Vocabulary.Seed(v) }),
        ["strategy"] = (s, v) => s.WithEstimator(s.Estimator with { Strategy = Vocabulary.Strategy(v) }),
        ["backend"] = (s, v) => s.WithEstimator(s.Estimator with { Backend = Vocabulary.Backend(v) }),
        ["precision"] = (s, v) => s.WithEstimator(s.Estimator with { Precision = Vocabulary.Precision(v) }),
        ["treatment"] = (s, v) => s.WithEstimator(s.Estimator with { Treatment = Vocabulary.Treatment(v) }),
        [NameKey] = (s, v) => s.WithEstimator(s.Estimator with { Name = v.Length > 0 ? v : throw new FormatException("a name must not be empty") }),
        ["update"] = (s, v) => s with { Pruning = s.Pruning with { Update = Vocabulary.Update(v) } },
        ["selection"] = (s, v) => s with { Pruning = s.Pruning with { Selection = Vocabulary.Selection(v) } },
        ["recompute"] = (s, v) => s with { Pruning = s.Pruning with { RecomputeSteps = Vocabulary.Count(v) } },
        ["stepping"] = (s, v) => s with { Pruning = s.Pruning with { Stepping = Vocabulary.Stepping(v) } },
        ["taylor-step"] = (s, v) => s with { Pruning = s.Pruning with { GradientStep = Vocabulary.NonNegative(v), GradientStepGrid = null } },
    };

    /// <summary>Every key, in the order of the table above.</summary>
    public static IReadOnlyCollection<string> Keys => Readers.Keys;

    /// <summary>The method.</summary>
    public PruningMethod Method => Estimator.Method;

    /// <summary>A short label for tables and plots (see <see cref="EstimatorSpec.Label"/>).</summary>
    public string Label => Estimator.Label;

    /// <summary>
    /// Parses <c>name[:key=value,...]</c>, starting from <paramref name="estimatorDefaults"/> and <paramref name="prunerDefaults"/>
    /// for unspecified keys.
    /// </summary>
    /// <exception cref="FormatException">Unknown method or key, a key the method does not read, or a value that does not
    /// parse; the message quotes the spec.</exception>
    public static MethodSpec Parse(string text, EstimatorSpec? estimatorDefaults = null, PrunerOptions? prunerDefaults = null) =>
        Parse(text, estimatorDefaults, pruningKeys: true, prunerDefaults);

    /// <summary>
    /// Parses a comma-separated list of specs, e.g. <c>exact,woodfisher:block=50,damping=1e-4,kfac</c>: a token with '='
    /// but no ':' continues the spec before it.
    /// </summary>
    /// <exception cref="FormatException">An empty list, or a spec that does not parse.</exception>
    public static IReadOnlyList<MethodSpec> ParseList(string text, EstimatorSpec? estimatorDefaults = null, PrunerOptions? prunerDefaults = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var specs = new List<string>();
        foreach (var token in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (token.Contains('=') && !token.Contains(':') && specs.Count > 0)
            {
                specs[^1] += "," + token;
            }
            else
            {
                specs.Add(token);
            }
        }

        if (specs.Count == 0)
        {
            throw new FormatException("no method given");
        }

        return [.. specs.Select(s => Parse(s, estimatorDefaults, prunerDefaults))];
    }

    internal static MethodSpec Parse(string text, EstimatorSpec? estimatorDefaults, bool pruningKeys, PrunerOptions? prunerDefaults = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var method = PruningMethod.Find(colon < 0 ? text : text[..colon]);
        var spec = new MethodSpec(
            (estimatorDefaults ?? new EstimatorSpec()) with { Method = method, Name = null, Text = null },
            (prunerDefaults ?? new PrunerOptions()) with { Method = method });
        var given = new List<string>();
        if (colon >= 0)
        {
            foreach (var part in text[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var eq = part.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0)
                {
                    throw new FormatException($"{text}: expected key=value, not \"{part}\"");
                }

                var key = part[..eq].Trim().ToLowerInvariant();
                var value = part[(eq + 1)..].Trim();
                if (!Readers.TryGetValue(key, out var read))
                {
                    var hint = Internal.Suggest.Nearest(key, Readers.Keys);
                    throw new FormatException($"{text}: unknown key \"{key}\"{(hint is null ? "" : $" (did you mean {hint}?)")}; {method.Name} reads {string.Join(", ", method.Keys)}");
                }

                if (!method.Keys.Contains(key) || (!pruningKeys && PruningKeys.Contains(key)))
                {
                    var keys = method.Keys.Where(k => pruningKeys || !PruningKeys.Contains(k));
                    throw new FormatException($"{text}: {method.Name} does not read \"{key}\"{(key == "update" && !method.UsesCurvature ? " (it moves no other weight: its update is none)" : "")}; its keys are {string.Join(", ", keys)}");
                }

                spec = Vocabulary.Read($"{text}: {key}", value, v => read(spec, v));
                if (key != NameKey && !PruningKeys.Contains(key))
                {
                    given.Add($"{key}={value}");
                }
            }
        }

        // The label of the estimate: its name and the estimate's keys (the pruning keys are shown as the update).
        var normalised = given.Count == 0 ? method.Name : $"{method.Name}:{string.Join(',', given)}";
        return spec.WithEstimator(spec.Estimator with { Text = normalised });
    }

    private MethodSpec WithEstimator(EstimatorSpec estimator) => this with { Estimator = estimator };
}
