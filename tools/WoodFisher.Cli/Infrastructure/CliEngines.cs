using WoodFisher.Models.Inference;

namespace WoodFisher.Cli.Infrastructure;

/// <summary>The <c>--engine</c> vocabulary of eval and bench-inference.</summary>
internal static class CliEngines
{
    /// <summary>Reads <c>dense</c> or <c>sparse</c>.</summary>
    public static InferenceEngine Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "dense" => InferenceEngine.Dense,
        "sparse" => InferenceEngine.Sparse,
        _ => throw new FormatException($"'{text}' is not an engine; use dense or sparse"),
    };

    /// <summary>One line per layer whose zero-input units the engine removed, in the records <c>prune --pattern neurons</c> prints.</summary>
    public static void RecordRemovedUnits(InferenceModel? engine)
    {
        foreach (var u in engine?.RemovedUnits ?? [])
            CliConsole.Record(("units", u.Layer), ("before", u.Before), ("after", u.After), ("constant_kept", u.Constant));
    }

    /// <summary>The engine's name as the options spell it.</summary>
    public static string Name(InferenceEngine engine) => engine == InferenceEngine.Dense ? "dense" : "sparse";
}
