using System.Globalization;

namespace WoodFisher.Kernels;

/// <summary>
/// The one memory budget that every allocation sized by a file or an option is checked against before it is made.
/// The limit is, in order: the override set by <see cref="SetLimit"/> (the CLI's <c>--memory</c>), the
/// <c>WOODFISHER_MEMORY</c> environment variable (e.g. <c>8G</c>, <c>512M</c>, <c>1.5GiB</c>, a byte count), or the
/// memory available to the process (<see cref="GCMemoryInfo.TotalAvailableMemoryBytes"/>: physical memory or the
/// container's limit).
/// </summary>
/// <remarks>
/// Sizes are computed in 64 bits with <see cref="Product"/>, which saturates at <see cref="long.MaxValue"/> rather than
/// wrapping, so an absurd shape from a hostile file is refused instead of overflowing into a small allocation.
/// </remarks>
public static class MemoryBudget
{
    /// <summary>The environment variable that sets the budget when no override is set.</summary>
    public const string EnvironmentVariable = "WOODFISHER_MEMORY";

    private static long s_override;

    /// <summary>The budget in bytes (always ≥ 1).</summary>
    /// <exception cref="FormatException"><c>WOODFISHER_MEMORY</c> is set but is not a size.</exception>
    public static long Limit
    {
        get
        {
            var o = Volatile.Read(ref s_override);
            if (o > 0)
            {
                return o;
            }

            var env = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(env))
            {
                return Parse(env, EnvironmentVariable);
            }

            var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
            return available > 0 ? available : long.MaxValue;
        }
    }

    /// <summary>Where <see cref="Limit"/> comes from, in words for messages.</summary>
    public static string Source =>
        Volatile.Read(ref s_override) > 0 ? "the memory budget"
        : !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(EnvironmentVariable)) ? $"the memory budget ({EnvironmentVariable})"
        : "the memory available to the process";

    /// <summary>Sets the process-wide budget (<paramref name="bytes"/> ≥ 1), or restores the default with null.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bytes"/> is below 1.</exception>
    public static void SetLimit(long? bytes)
    {
        if (bytes is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "A memory budget must be at least 1 byte.");
        }

        Volatile.Write(ref s_override, bytes ?? 0);
    }

    /// <summary>Sets the budget until the returned scope is disposed (tests, nested tools); restores the previous one.</summary>
    public static IDisposable Override(long bytes)
    {
        var previous = Volatile.Read(ref s_override);
        SetLimit(bytes);
        return new Restore(previous);
    }

    /// <summary>True when <paramref name="bytes"/> fit within <paramref name="fraction"/> of the budget.</summary>
    public static bool Fits(long bytes, double fraction = 1.0) => bytes >= 0 && bytes <= Limit * fraction;

    /// <summary>
    /// Throws <see cref="InsufficientMemoryException"/> (refused before any memory was spent; the message names what,
    /// the bytes, the budget and <paramref name="hint"/>) unless <paramref name="bytes"/> fit within
    /// <paramref name="fraction"/> of the budget.
    /// </summary>
    /// <param name="bytes">Bytes the caller is about to allocate (use <see cref="Product"/> to compute them).</param>
    /// <param name="what">What needs them, e.g. "The WoodFisher inverse (666 blocks of c = 400, float32)".</param>
    /// <param name="hint">What the user can do, e.g. "Use a smaller block size c."</param>
    /// <param name="fraction">Share of the budget this allocation may take (e.g. 0.5 when a copy follows).</param>
    public static void Require(long bytes, string what, string? hint = null, double fraction = 1.0)
    {
        if (!Fits(bytes, fraction))
        {
            throw Exceeded(bytes, (long)Math.Min(Limit * fraction, long.MaxValue), what, hint);
        }
    }

    /// <summary>The exception <see cref="Require"/> throws, for callers with a limit of their own (e.g. an array length).</summary>
    public static InsufficientMemoryException Exceeded(long required, long limit, string what, string? hint = null) =>
        new($"{what} needs {Format(required)}, more than {Source} allows ({Format(limit)}).{(hint is null ? string.Empty : " " + hint)}");

    /// <summary>The product of non-negative factors in 64 bits, saturating at <see cref="long.MaxValue"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A factor is negative.</exception>
    public static long Product(params ReadOnlySpan<long> factors)
    {
        long p = 1;
        foreach (var f in factors)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(f);
            if (f == 0)
            {
                return 0;
            }

            p = p > long.MaxValue / f ? long.MaxValue : p * f;
        }

        return p;
    }

    /// <summary>The sum of non-negative terms in 64 bits, saturating at <see cref="long.MaxValue"/>.</summary>
    public static long Sum(params ReadOnlySpan<long> terms)
    {
        long s = 0;
        foreach (var t in terms)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(t);
            s = s > long.MaxValue - t ? long.MaxValue : s + t;
        }

        return s;
    }

    /// <summary>
    /// Parses a size: a byte count, or a number with a unit K, M, G, T (powers of 1024; "KiB", "MB", "GB" and so on are
    /// read the same way), e.g. <c>8G</c>, <c>512M</c>, <c>1.5GiB</c>.
    /// </summary>
    /// <exception cref="FormatException">Not a positive size; the message names <paramref name="source"/>.</exception>
    public static long Parse(string text, string source = "size")
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim();
        var end = t.Length;
        while (end > 0 && char.IsLetter(t[end - 1]))
        {
            end--;
        }

        var unit = t[end..].ToUpperInvariant();
        long scale = unit switch
        {
            "" or "B" => 1,
            "K" or "KB" or "KIB" => 1L << 10,
            "M" or "MB" or "MIB" => 1L << 20,
            "G" or "GB" or "GIB" => 1L << 30,
            "T" or "TB" or "TIB" => 1L << 40,
            _ => -1,
        };
        if (scale < 0
            || !double.TryParse(t[..end].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            || !double.IsFinite(value) || value * scale < 1 || value * scale >= long.MaxValue)
        {
            throw new FormatException($"{source}: \"{text}\" is not a memory size such as 8G, 512M or 1.5GiB.");
        }

        return (long)(value * scale);
    }

    /// <summary>Formats bytes for messages: "1,234,567,890 bytes (1.15 GiB)".</summary>
    public static string Format(long bytes) =>
        bytes == long.MaxValue ? "more than 9.2·10¹⁸ bytes"
        : string.Create(CultureInfo.InvariantCulture, $"{bytes:N0} bytes ({Human(bytes)})");

    /// <summary>A short human size: "512 B", "3.5 MiB", "1.15 GiB".</summary>
    public static string Human(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        double v = bytes;
        var u = 0;
        while (v >= 1024 && u < units.Length - 1)
        {
            v /= 1024;
            u++;
        }

        return u == 0 ? string.Create(CultureInfo.InvariantCulture, $"{bytes} B") : string.Create(CultureInfo.InvariantCulture, $"{v:0.##} {units[u]}");
    }

    private sealed class Restore(long previous) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (!_done)
            {
                Volatile.Write(ref s_override, previous);
                _done = true;
            }
        }
    }
}
