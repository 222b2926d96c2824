using System.Numerics.Tensors;

namespace WoodFisher.Cli.Infrastructure;

/// <summary>Results are checked before they are written: a NaN or infinity is an error that says where, never a file.</summary>
internal static class Finite
{
    /// <summary>Throws <see cref="ArithmeticException"/> naming <paramref name="what"/>, the first bad index and value, and <paramref name="hint"/>.</summary>
    public static void Check(ReadOnlySpan<double> values, string what, string? hint = null)
    {
        // MaxMagnitude is NaN when any entry is NaN and infinite when any is: one vectorised pass in the common case.
        if (values.IsEmpty || double.IsFinite(TensorPrimitives.MaxMagnitude(values)))
            return;
        var at = 0;
        while (double.IsFinite(values[at]))
            at++;
        var count = 0;
        foreach (var v in values)
        {
            if (!double.IsFinite(v))
                count++;
        }
        throw new ArithmeticException(string.Create(CultureInfo.InvariantCulture,
            $"{what}: {count} non-finite value{(count == 1 ? "" : "s")} (the first, at index {at}, is {values[at]}); nothing was written{(hint is null ? "" : "; " + hint)}"));
    }
}
