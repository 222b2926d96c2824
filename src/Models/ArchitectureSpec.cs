namespace WoodFisher.Models;

/// <summary>The spec string of a fixed-shape network whose layer widths pruning may have reduced.</summary>
internal static class ArchitectureSpec
{
    /// <summary><c>name:CxHxW</c>, followed by <c>:W1-W2-…</c> when <paramref name="widths"/> are not the standard ones.</summary>
    public static string Of(string name, int c, int h, int w, int[] widths, int[] standard) =>
        $"{name}:{c}x{h}x{w}" + (widths.SequenceEqual(standard) ? "" : ":" + string.Join('-', widths));
}
