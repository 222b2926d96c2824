using System.Globalization;

namespace WoodFisher.Pruning;

/// <summary>
/// The damping λ of an inverse-curvature estimate (F̂ + λI): a fixed value, or <see cref="Auto"/> — chosen at each
/// pruning step from a grid by the lowest criterion of the pruned result (<see cref="DampingSelection"/>). A double
/// converts implicitly to a fixed λ. <c>default(Damping)</c> is <see cref="Auto"/>.
/// </summary>
public readonly struct Damping : IEquatable<Damping>
{
    private readonly double _value;
    private readonly double[]? _grid;

    private Damping(double value, double[]? grid)
    {
        _value = value;
        _grid = grid;
    }

    /// <summary>The grid <see cref="Auto"/> searches: 1e-7, 1e-6, …, 1e-1 (one value per decade).</summary>
    public static IReadOnlyList<double> DefaultGrid { get; } = [1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1];

    /// <summary>λ chosen per pruning step from <see cref="DefaultGrid"/>.</summary>
    public static Damping Auto => default;

    /// <summary>True when λ is chosen from <see cref="Candidates"/> rather than fixed.</summary>
    public bool IsAuto => _value == 0;

    /// <summary>The fixed λ.</summary>
    /// <exception cref="InvalidOperationException">The damping is automatic.</exception>
    public double Value => IsAuto
        ? throw new InvalidOperationException("The damping is automatic: λ is chosen by a pruning step (Pruner), so there is no fixed value; give a number to build one estimate.")
        : _value;

    /// <summary>The values tried: the grid when automatic, else the fixed λ alone.</summary>
    public IReadOnlyList<double> Candidates => IsAuto ? _grid ?? DefaultGrid : [_value];

    /// <summary>A fixed λ &gt; 0.</summary>
    /// <exception cref="ArgumentOutOfRangeException">λ is not positive and finite.</exception>
    public static Damping Fixed(double lambda)
    {
        Check(lambda, nameof(lambda));
        return new Damping(lambda, null);
    }

    /// <summary>λ chosen per pruning step from <paramref name="grid"/> (positive, finite, at least one value; sorted here).</summary>
    public static Damping Search(IEnumerable<double> grid)
    {
        ArgumentNullException.ThrowIfNull(grid);
        var values = grid.Distinct().Order().ToArray();
        if (values.Length == 0)
        {
            throw new ArgumentException("The damping grid is empty; give at least one λ.", nameof(grid));
        }

        foreach (var v in values)
        {
            Check(v, nameof(grid));
        }

        return new Damping(0, values);
    }

    /// <summary>A fixed λ.</summary>
    public static implicit operator Damping(double lambda) => Fixed(lambda);

    /// <summary>
    /// Parses <c>auto</c>, <c>auto:L1,L2,…</c> (a grid) or a number (invariant culture).
    /// </summary>
    /// <exception cref="FormatException">Not one of those, or a λ that is not positive and finite.</exception>
    public static Damping Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim();
        if (t.Equals("auto", StringComparison.OrdinalIgnoreCase))
        {
            return Auto;
        }

        if (t.StartsWith("auto:", StringComparison.OrdinalIgnoreCase))
        {
            var values = t[5..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(v => Number(v, text)).ToArray();
            return values.Length > 0 ? Search(values) : throw new FormatException($"'{text}': the grid after 'auto:' is empty; e.g. auto:1e-6,1e-4,1e-2.");
        }

        return Fixed(Number(t, text));
    }

    /// <inheritdoc/>
    public bool Equals(Damping other) => _value.Equals(other._value) && Candidates.SequenceEqual(other.Candidates);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Damping other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => IsAuto ? Candidates.Count : _value.GetHashCode();

    /// <summary>Equality.</summary>
    public static bool operator ==(Damping left, Damping right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(Damping left, Damping right) => !left.Equals(right);

    /// <summary><c>auto</c>, <c>auto:1e-06,0.0001</c> (a custom grid) or the number.</summary>
    public override string ToString() => !IsAuto
        ? _value.ToString("g6", CultureInfo.InvariantCulture)
        : _grid is null ? "auto" : "auto:" + string.Join(',', _grid.Select(v => v.ToString("g6", CultureInfo.InvariantCulture)));

    private static double Number(string value, string text)
    {
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !(v > 0) || !double.IsFinite(v))
        {
            throw new FormatException($"'{text}': damping must be 'auto' or a positive finite number such as 1e-4 ('{value}' is not).");
        }

        return v;
    }

    private static void Check(double lambda, string name)
    {
        if (!(lambda > 0) || !double.IsFinite(lambda))
        {
            throw new ArgumentOutOfRangeException(name, lambda, "Damping λ must be positive and finite.");
        }
    }
}
