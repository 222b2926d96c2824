using Spectre.Console;

namespace WoodFisher.Cli.Options;

/// <summary>
/// An option's help text. Spectre.Console renders descriptions as markup, so text such as <c>[0, 1)</c> or
/// <c>name[:key=value,...]</c> would be read as style tags; every description goes through here, escaped once.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class HelpAttribute(string text) : DescriptionAttribute(Markup.Escape(text))
{
    /// <summary>The unescaped text.</summary>
    public string Text { get; } = text;
}
