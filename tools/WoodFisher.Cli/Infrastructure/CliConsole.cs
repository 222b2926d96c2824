using Spectre.Console;
using Spectre.Console.Rendering;

namespace WoodFisher.Cli.Infrastructure;

/// <summary>
/// Where CLI output goes. Rich output (tables, progress bars) only when stdout is an interactive terminal; otherwise
/// plain lines on <see cref="Console.Out"/> that carry the same labels as the tables, as <c>key=value</c> fields
/// (<see cref="Record"/>), so piped output says what each number is.
/// </summary>
internal static class CliConsole
{
    private static IAnsiConsole? s_ansi;

    /// <summary>True when stdout is a terminal a person is watching (not redirected, not CI).</summary>
    public static bool IsInteractive => InteractiveOverride ??
        (!Console.IsOutputRedirected
        && !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase)
        && Ansi.Profile.Capabilities.Interactive);

    /// <summary>Tests set this to force plain (false) or rich (true) output; null detects.</summary>
    public static bool? InteractiveOverride { get; set; }

    /// <summary>The Spectre console of this run (help, tables, progress), writing to the current <see cref="Console.Out"/>.</summary>
    public static IAnsiConsole Ansi => s_ansi ??= CreateAnsi();

    /// <summary>A console over the current <see cref="Console.Out"/> (so a redirected or captured stdout gets the help too).</summary>
    public static IAnsiConsole CreateAnsi() => s_ansi = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });

    /// <summary>Renders a Spectre widget to the terminal.</summary>
    public static void Render(IRenderable renderable) => Ansi.Write(renderable);

    /// <summary>Writes one plain line to stdout.</summary>
    public static void Line(string text) => Console.Out.WriteLine(text);

    /// <summary>Writes one labelled line to stdout: <c>key=value key=value</c> (values with spaces are quoted, null fields left out).</summary>
    public static void Record(params (string Key, object? Value)[] fields) =>
        Line(string.Join(' ', fields.Where(f => f.Value is not null).Select(f => $"{f.Key}={Quote(Format(f.Value))}")));

    /// <summary>Writes one plain line to stderr (notes, progress in non-interactive mode).</summary>
    public static void Note(string text) => Console.Error.WriteLine(text);

    /// <summary>Shows the cursor again if a progress bar hid it (after an error or a signal).</summary>
    public static void RestoreCursor()
    {
        if (IsInteractive)
            Console.Out.Write("\u001b[?25h");
    }

    /// <summary>Invariant text of a value: doubles to 6 significant digits, others as they format.</summary>
    public static string Format(object? value) => value switch
    {
        null => "",
        double d => d.ToString("g6", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static string Quote(string v) => v.Length == 0 || v.Any(char.IsWhiteSpace) || v.Contains('"') ? $"\"{v.Replace("\"", "\\\"", StringComparison.Ordinal)}\"" : v;
}
