using Spectre.Console;
using Spectre.Console.Rendering;

namespace WoodFisher.Cli.Infrastructure;

/// <summary>
/// Where CLI output goes. Rich output (tables, progress bars) only when stdout is an interactive terminal;
/// otherwise plain, parse-friendly lines on <see cref="Console.Out"/> (so tests that redirect it capture them).
/// </summary>
internal static class CliConsole
{
    /// <summary>True when stdout is a terminal a person is watching (not redirected, not CI).</summary>
    public static bool IsInteractive => InteractiveOverride ??
        (!Console.IsOutputRedirected
        && !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase)
        && AnsiConsole.Profile.Capabilities.Interactive);

    /// <summary>Tests set this to force plain (false) or rich (true) output; null detects.</summary>
    public static bool? InteractiveOverride { get; set; }

    /// <summary>Renders a Spectre widget to the terminal.</summary>
    public static void Render(IRenderable renderable) => AnsiConsole.Write(renderable);

    /// <summary>Writes one plain line to stdout.</summary>
    public static void Line(string text) => Console.Out.WriteLine(text);

    /// <summary>Writes one plain line to stderr (notes, progress in non-interactive mode).</summary>
    public static void Note(string text) => Console.Error.WriteLine(text);
}
