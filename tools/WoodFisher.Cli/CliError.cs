using Spectre.Console.Cli;

namespace WoodFisher.Cli;

/// <summary>Turns any exception into the one-line message and exit code the CLI promises.</summary>
internal static class CliError
{
    public static string Describe(Exception ex)
    {
        var inner = ex is CommandRuntimeException { InnerException: { } i } ? i : ex;
        return inner.Message.ReplaceLineEndings(" ");
    }

    public static int ExitCode(Exception ex) => ex switch
    {
        CommandParseException or CommandAppException or ArgumentException => 2,
        _ => 1,
    };
}
