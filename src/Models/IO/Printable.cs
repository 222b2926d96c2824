using System.Globalization;
using System.Text;

namespace WoodFisher.IO;

/// <summary>
/// Makes names read from files (tensor names, archive members, metadata) safe to print: a hostile name with an escape
/// sequence could otherwise retitle the terminal or hide text. Control characters (C0, DEL, C1), lone surrogates and
/// the bidirectional overrides U+202A–U+202E, U+2066–U+2069 become <c>\xNN</c> / <c>\uNNNN</c>; backslash becomes
/// <c>\\</c> so the escaped form is unambiguous. Everything else, including non-ASCII letters, is kept.
/// </summary>
public static class Printable
{
    /// <summary>The text with every unprintable character escaped (see the class remarks); null gives "".</summary>
    public static string Escape(string? text)
    {
        if (string.IsNullOrEmpty(text))
            return string.Empty;
        int i = 0;
        while (i < text.Length && !NeedsEscape(text, i))
            i++;
        if (i == text.Length)
            return text;
        var sb = new StringBuilder(text.Length + 16);
        sb.Append(text, 0, i);
        for (; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                sb.Append(c).Append(text[++i]);
            }
            else if (c == '\\')
            {
                sb.Append(@"\\");
            }
            else if (NeedsEscape(text, i))
            {
                sb.Append(c <= 0xFF ? string.Create(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}") : string.Create(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"));
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }

    private static bool NeedsEscape(string s, int i)
    {
        char c = s[i];
        if (c == '\\' || char.IsControl(c) || c is (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069'))
            return true;
        if (char.IsHighSurrogate(c))
            return i + 1 >= s.Length || !char.IsLowSurrogate(s[i + 1]);
        return char.IsLowSurrogate(c) && (i == 0 || !char.IsHighSurrogate(s[i - 1]));
    }
}
