using System.Globalization;

namespace WoodFisher.Pruning;

/// <summary>The shape of what one pruning decision removes.</summary>
public enum PatternKind
{
    /// <summary>Single weights (the default).</summary>
    Unstructured,

    /// <summary>N:M: at most N weights kept in every M consecutive inputs of each row (each output unit's fan-in).</summary>
    NofM,

    /// <summary>R × C tiles of each weight matrix (rows = output units, columns = inputs, a convolution's in·k·k flattened).</summary>
    Block,

    /// <summary>Whole output units: a Linear layer's neuron or a Conv2d filter (the row of its incoming weights, and its bias).</summary>
    Neurons,
}

/// <summary>
/// What pruning removes at a time, as <c>--pattern</c> spells it: <c>unstructured</c>, <c>N:M</c> (e.g. <c>2:4</c>,
/// <c>1:4</c>, <c>4:8</c>), <c>block:RxC</c> (e.g. <c>block:1x4</c>, <c>block:4x1</c>) or <c>neurons</c>. Every structured
/// pattern is OBS over groups Q: cost ρ_Q = ½ w_Qᵀ([H⁻¹]_QQ)⁻¹w_Q (<see cref="ObsGroupCost"/>) and the joint update
/// δw = −H⁻¹E_Q([H⁻¹]_QQ)⁻¹w_Q (<see cref="ObsWeightUpdate"/>); see <see cref="PatternSelection"/> for the choice of groups.
/// </summary>
public sealed record PruningPattern
{
    private PruningPattern(PatternKind kind, int a, int b)
    {
        Kind = kind;
        (A, B) = (a, b);
    }

    /// <summary>Single weights.</summary>
    public static PruningPattern Unstructured { get; } = new(PatternKind.Unstructured, 1, 1);

    /// <summary>Whole output units.</summary>
    public static PruningPattern Neurons { get; } = new(PatternKind.Neurons, 1, 1);

    /// <summary>The kind.</summary>
    public PatternKind Kind { get; }

    /// <summary>N for N:M, R for block:RxC.</summary>
    public int A { get; }

    /// <summary>M for N:M, C for block:RxC.</summary>
    public int B { get; }

    /// <summary>Whether the pattern removes groups rather than single weights.</summary>
    public bool IsStructured => Kind != PatternKind.Unstructured;

    /// <summary>N:M's own sparsity (M − N)/M; NaN for the other patterns, whose sparsity is chosen.</summary>
    public double NofMSparsity => Kind == PatternKind.NofM ? (double)(B - A) / B : double.NaN;

    /// <summary>N:M: at most <paramref name="n"/> of every <paramref name="m"/> consecutive inputs kept (1 ≤ N &lt; M ≤ 256).</summary>
    public static PruningPattern NofM(int n, int m)
    {
        if (n < 1 || m <= n || m > 256)
            throw new ArgumentOutOfRangeException(nameof(n), $"N:M needs 1 ≤ N < M ≤ 256; got {n}:{m}.");
        return new(PatternKind.NofM, n, m);
    }

    /// <summary>R × C tiles (R, C ≥ 1, not both 1).</summary>
    public static PruningPattern Block(int rows, int columns)
    {
        if (rows < 1 || columns < 1 || rows * (long)columns < 2 || rows * (long)columns > 4096)
            throw new ArgumentOutOfRangeException(nameof(rows), $"Tiles need R, C ≥ 1, 2 ≤ R·C ≤ 4096; got {rows}x{columns}.");
        return new(PatternKind.Block, rows, columns);
    }

    /// <summary>Parses <c>unstructured</c>, <c>N:M</c>, <c>block:RxC</c> or <c>neurons</c> (case-insensitive).</summary>
    /// <exception cref="FormatException">Not a pattern; the message lists the spellings.</exception>
    public static PruningPattern Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim().ToLowerInvariant();
        static bool Positive(string s, out int v) => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v) && v > 0;
        try
        {
            switch (t)
            {
                case "unstructured":
                    return Unstructured;
                case "neurons":
                    return Neurons;
            }

            if (t.StartsWith("block:", StringComparison.Ordinal) && t[6..].Split('x') is [var r, var c] && Positive(r, out var rows) && Positive(c, out var cols))
                return Block(rows, cols);
            if (t.Split(':') is [var n, var m] && Positive(n, out var nn) && Positive(m, out var mm))
                return NofM(nn, mm);
        }
        catch (ArgumentOutOfRangeException ex)
        {
            throw new FormatException($"'{text}': {ex.Message.Split(" (Parameter", 2)[0]}", ex);
        }

        throw new FormatException($"'{text}' is not a pruning pattern; use unstructured, N:M (e.g. 2:4, 1:4, 4:8), block:RxC (e.g. block:1x4, block:4x1) or neurons.");
    }

    /// <summary>The spelling <see cref="Parse"/> reads.</summary>
    public override string ToString() => Kind switch
    {
        PatternKind.NofM => string.Create(CultureInfo.InvariantCulture, $"{A}:{B}"),
        PatternKind.Block => string.Create(CultureInfo.InvariantCulture, $"block:{A}x{B}"),
        PatternKind.Neurons => "neurons",
        _ => "unstructured",
    };
}
