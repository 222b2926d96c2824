using System.Text.RegularExpressions;

namespace WoodFisher.Cli;

/// <summary>Turns any exception into the one-line message and exit code the CLI promises: 2 for usage errors, 1 for failures.</summary>
internal static partial class CliError
{
    public static string Describe(Exception ex, IReadOnlyList<string> args) => Classify(ex, args).Message;

    public static int ExitCode(Exception ex, IReadOnlyList<string> args) => Classify(ex, args).Usage ? 2 : 1;

    private static (string Message, bool Usage) Classify(Exception ex, IReadOnlyList<string> args)
    {
        var inner = ex is CommandRuntimeException { InnerException: { } i } ? i : ex;
        var message = inner.Message.ReplaceLineEndings(" ");
        // Spectre's conversion messages name the value, not the option: find the option that took it.
        var conversion = ConversionFailure().Match(ex.Message) is { Success: true } m ? m : InvalidValue().Match(message);
        if (conversion.Success && inner is not UsageException)
        {
            var value = conversion.Groups[1].Value;
            var at = args.ToList().LastIndexOf(value);
            var option = at > 0 ? args[at - 1] : "an option";
            return ($"{option}: \"{value}\" is not {(conversion.Groups[2].Value is "Int32" or "Int64" ? "an integer" : "a number")}", true);
        }

        if (MissingOption().Match(message) is { Success: true } r)
            return ($"{r.Groups[1].Value}: --{r.Groups[2].Value} is required", true);
        return (message, inner is UsageException || ex is CommandAppException);
    }

    [GeneratedRegex(@"^Failed to convert '(.*)' to (\w+)\.")]
    private static partial Regex ConversionFailure();

    [GeneratedRegex(@"^(.*) is not a valid value for (\w+)\.")]
    private static partial Regex InvalidValue();

    [GeneratedRegex(@"^Command '(\w+)' is missing required option '([\w-]+)'")]
    private static partial Regex MissingOption();
}
