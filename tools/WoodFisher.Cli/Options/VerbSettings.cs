namespace WoodFisher.Cli.Options;

/// <summary>Options every verb takes: the memory budget that sizes from files and options are checked against.</summary>
internal class VerbSettings : CommandSettings
{
    [CommandOption("--memory <SIZE>"), Help("Memory budget for allocations sized by files and options, e.g. 8G or 512M (default: WOODFISHER_MEMORY, else the memory available).")]
    public string? Memory { get; init; }

    /// <summary>The budget in bytes, or null to keep the default.</summary>
    public long? MemoryBytes => Memory is null ? null : Read("--memory", Memory, t => MemoryBudget.Parse(t, "--memory"));

    /// <summary>Reads an option's text with a parser of <see cref="Pruning.Vocabulary"/>, as a usage error naming the option.</summary>
    public static T Read<T>(string option, string text, Func<string, T> read)
    {
        try
        {
            return Pruning.Vocabulary.Read(option, text, read);
        }
        catch (FormatException ex)
        {
            throw new UsageException(ex.Message.StartsWith(option, StringComparison.Ordinal) ? ex.Message : $"{option}: {ex.Message}", ex);
        }
    }

    /// <summary>Checks a typed value (already converted by Spectre) with a parser of <see cref="Pruning.Vocabulary"/>.</summary>
    public static T Check<T>(string option, T value, Func<string, T> read)
        where T : IFormattable => Read(option, value.ToString(null, CultureInfo.InvariantCulture), read);
}
