using System.Globalization;
using System.Numerics;
using WoodFisher.Models.Layers;

namespace WoodFisher.Models;

/// <summary>
/// Multi-layer perceptron from a spec <c>mlp:784-300-100-10</c> (append <c>:nobias</c> for bias-free layers): Linear layers
/// fc1, fc2, … with ReLU between them; input [784], logits [10].
/// </summary>
public sealed class Mlp<T> : Model<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Builds the MLP with seeded PyTorch-default initialisation.</summary>
    public Mlp(int[] sizes, bool bias = true, int seed = 0) : base(SpecOf(sizes, bias), Build(sizes, bias, seed), [sizes[0]], sizes[^1])
    {
        Sizes = (int[])sizes.Clone();
        HasBias = bias;
    }

    /// <summary>Layer widths, input first.</summary>
    public int[] Sizes { get; }

    /// <summary>Whether layers have biases.</summary>
    public bool HasBias { get; }

    /// <summary>Parses <c>mlp:784-300-100-10[:nobias]</c>.</summary>
    public static Mlp<T> FromSpec(string spec, int seed = 0)
    {
        var parts = spec.Split(':');
        if (parts.Length < 2 || !parts[0].Equals("mlp", StringComparison.OrdinalIgnoreCase))
            throw new FormatException($"'{spec}' is not an MLP spec; expected e.g. mlp:784-300-100-10 or mlp:784-300-10:nobias.");
        var sizes = parts[1].Split('-').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        if (sizes.Length < 2 || sizes.Any(s => s <= 0))
            throw new FormatException($"'{spec}' needs at least two positive layer sizes.");
        var bias = !(parts.Length > 2 && parts[2].Equals("nobias", StringComparison.OrdinalIgnoreCase));
        return new Mlp<T>(sizes, bias, seed);
    }

    private static string SpecOf(int[] sizes, bool bias) => "mlp:" + string.Join('-', sizes) + (bias ? "" : ":nobias");

    private static Sequential<T> Build(int[] sizes, bool bias, int seed)
    {
        var rng = new Random(seed);
        var s = new Sequential<T>();
        for (var i = 0; i + 1 < sizes.Length; i++)
        {
            s.Add($"fc{i + 1}", new Linear<T>(sizes[i], sizes[i + 1], bias, rng));
            if (i + 2 < sizes.Length)
                s.Add($"relu{i + 1}", new Relu<T>());
        }
        return s;
    }
}
