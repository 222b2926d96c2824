using System.Text.Json;
using System.Text.Json.Serialization;
using WoodFisher.Kernels;

namespace WoodFisher.Pruning;

/// <summary>Evaluation metrics of a model (dense or pruned); any may be missing.</summary>
public sealed record PruningMetrics
{
    /// <summary>Mean loss on the evaluation set.</summary>
    public double? Loss { get; init; }

    /// <summary>Top-1 accuracy in [0, 1].</summary>
    public double? Accuracy { get; init; }

    /// <summary>Further named metrics (e.g. "top5").</summary>
    public IReadOnlyDictionary<string, double>? Extra { get; init; }
}

/// <summary>Sparsity of one segment (layer).</summary>
/// <param name="Name">Layer name (e.g. "fc1.weight"), or "segment{i}" when none was given.</param>
/// <param name="Size">Coordinates in the segment.</param>
/// <param name="Pruned">Coordinates pruned.</param>
/// <param name="Sparsity">Pruned / Size.</param>
/// <param name="Prunable">Whether the segment was eligible for pruning.</param>
public sealed record LayerSparsity(string Name, int Size, int Pruned, double Sparsity, bool Prunable);

/// <summary>
/// The settings that produced a report, so a report file alone says how to reproduce it; any may be missing (the
/// pruner fills <see cref="GradientStep"/>, the integrator the estimator's settings).
/// </summary>
public sealed record PruningSettings
{
    /// <summary>Dampening λ of the empirical Fisher, F̂ + λI.</summary>
    public double? Damping { get; init; }

    /// <summary>
    /// WoodFisher block size c (coordinates per diagonal block); <see cref="EstimatorSpec.FullBlockSize"/> for one block of
    /// all d coordinates, written "full" in JSON.
    /// </summary>
    [JsonConverter(typeof(BlockSizeJsonConverter))]
    public int? BlockSize { get; init; }

    /// <summary>The block size as a user writes it: the number, "full", or null when there is none.</summary>
    [JsonIgnore]
    public string? BlockText => BlockSize is { } c ? c == EstimatorSpec.FullBlockSize ? "full" : c.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;

    /// <summary>Training samples whose gradients form the Fisher estimate.</summary>
    public int? FisherSamples { get; init; }

    /// <summary>Samples averaged into one Fisher gradient row (Fisher mini-batch size).</summary>
    public int? FisherMiniBatch { get; init; }

    /// <summary>WoodTaylor step η scaling the Newton term −η·H⁻¹g (<see cref="PrunerOptions.GradientStep"/>).</summary>
    public double? GradientStep { get; init; }

    /// <summary>Storage precision of the inverse.</summary>
    public Precision? Precision { get; init; }

    /// <summary>Backend requested for the inverse (Auto when the library chose).</summary>
    public BackendKind? Backend { get; init; }

    /// <summary>Seed of the Fisher sample draw; null for the first samples in order.</summary>
    public int? Seed { get; init; }
}

/// <summary>
/// Summary of one pruning run, serialisable with System.Text.Json (<see cref="ToJson"/>, <see cref="FromJson"/>).
/// The integrator fills <see cref="Dense"/> and <see cref="Pruned"/> from its evaluation.
/// </summary>
public sealed record PruningReport
{
    /// <summary>Method name (<see cref="PruningMethod.Name"/>).</summary>
    public string Method { get; init; } = "";

    /// <summary>Name of the last H⁻¹ estimate.</summary>
    public string Estimator { get; init; } = "";

    /// <summary>Bytes held by the last H⁻¹ estimate.</summary>
    public long InverseBytes { get; init; }

    /// <summary>Weight update applied (<see cref="PrunerOptions.EffectiveUpdate"/>: none for magnitude).</summary>
    public UpdateMode Update { get; init; }

    /// <summary>Selection mode.</summary>
    public SelectionMode Selection { get; init; }

    /// <summary>Recompute steps K.</summary>
    public int RecomputeSteps { get; init; }

    /// <summary>Stepping over the K steps.</summary>
    public SparsityStepping Stepping { get; init; }

    /// <summary>Target sparsity s.</summary>
    public double TargetSparsity { get; init; }

    /// <summary>Achieved sparsity over the prunable segments.</summary>
    public double AchievedSparsity { get; init; }

    /// <summary>Per-segment sparsity.</summary>
    public IReadOnlyList<LayerSparsity> Layers { get; init; } = [];

    /// <summary>Metrics of the dense model (filled by the caller).</summary>
    public PruningMetrics? Dense { get; init; }

    /// <summary>Metrics of the pruned model (filled by the caller).</summary>
    public PruningMetrics? Pruned { get; init; }

    /// <summary>Seconds per phase, summed over steps.</summary>
    public PhaseTimings Seconds { get; init; } = new();

    /// <summary>How each recompute step chose λ when the damping was automatic (in step order); null when it was fixed.</summary>
    public IReadOnlyList<DampingSelection>? DampingSearch { get; init; }

    /// <summary>Settings of the run beyond the fields above (null in reports written before they were recorded).</summary>
    public PruningSettings? Settings { get; init; }

    /// <summary>Builds the report of <paramref name="result"/> run with <paramref name="options"/>.</summary>
    /// <param name="options">The pruner's options.</param>
    /// <param name="result">The pruner's result.</param>
    /// <param name="layerNames">Optional names, one per segment.</param>
    public static PruningReport Create(PrunerOptions options, PruningResult result, IReadOnlyList<string>? layerNames = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(result);
        var segments = MaskSelection.CheckSegments(options.Segments, result.Mask.Length, options.PrunableSegments);
        if (layerNames is not null && layerNames.Count != segments.Length)
        {
            throw new ArgumentException($"There are {layerNames.Count} layer names for {segments.Length} segments.", nameof(layerNames));
        }

        var layers = new List<LayerSparsity>();
        var start = 0;
        for (var s = 0; s < segments.Length; s++)
        {
            var pruned = 0;
            for (var i = start; i < start + segments[s]; i++)
            {
                if (!result.Mask[i])
                {
                    pruned++;
                }
            }

            layers.Add(new LayerSparsity(layerNames?[s] ?? $"segment{s}", segments[s], pruned, (double)pruned / segments[s], options.PrunableSegments?[s] ?? true));
            start += segments[s];
        }

        var last = result.Steps.Count > 0 ? result.Steps[^1] : null;
        return new PruningReport
        {
            Method = options.Method.Name,
            Estimator = last?.Estimator ?? "",
            InverseBytes = last?.InverseBytes ?? 0,
            Update = options.EffectiveUpdate,
            Selection = options.Selection,
            RecomputeSteps = options.RecomputeSteps,
            Stepping = options.Stepping,
            TargetSparsity = options.Sparsity,
            AchievedSparsity = result.Sparsity,
            Layers = layers,
            Seconds = result.Timings,
            DampingSearch = result.Steps.Any(s => s.Damping is not null) ? result.Steps.Where(s => s.Damping is not null).Select(s => s.Damping!).ToArray() : null,
            Settings = new PruningSettings { GradientStep = options.GradientStep },
        };
    }

    /// <summary>Indented JSON with enums as strings.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Reads a report written by <see cref="ToJson"/>.</summary>
    public static PruningReport FromJson(string json) =>
        JsonSerializer.Deserialize<PruningReport>(json, JsonOptions) ?? throw new JsonException("The JSON text holds no pruning report.");

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },

        // A damping search records +∞ for a candidate whose result was not finite, and NaN for a fixed λ.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}

/// <summary>A block size in JSON: its number, or "full" for <see cref="EstimatorSpec.FullBlockSize"/>.</summary>
internal sealed class BlockSizeJsonConverter : JsonConverter<int?>
{
    public override int? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.Null => null,
        JsonTokenType.String when reader.GetString() == "full" => EstimatorSpec.FullBlockSize,
        JsonTokenType.Number => reader.GetInt32(),
        _ => throw new JsonException("A block size is a number or \"full\"."),
    };

    public override void Write(Utf8JsonWriter writer, int? value, JsonSerializerOptions options)
    {
        if (value is not { } c)
        {
            writer.WriteNullValue();
        }
        else if (c == EstimatorSpec.FullBlockSize)
        {
            writer.WriteStringValue("full");
        }
        else
        {
            writer.WriteNumberValue(c);
        }
    }
}
