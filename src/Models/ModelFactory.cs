using System.Globalization;
using System.Numerics;

namespace WoodFisher.Models;

/// <summary>
/// Builds models from spec strings: <c>mlp:784-300-100-10[:nobias]</c>, <c>lenet5[:CxHxW]</c> (default 1x28x28),
/// <c>cifarnet[:CxHxW]</c> and <c>resnet20[:CxHxW]</c> (default 3x32x32), <c>cnn:C1-C2[:bn]</c> (1x28x28); 10 classes for the CNNs.
/// </summary>
public static class ModelFactory
{
    /// <summary>Creates a float32 model from a spec.</summary>
    public static IModel<float> Create(string spec, int seed = 0) => Create<float>(spec, seed);

    /// <summary>Creates a model of element type <typeparamref name="T"/> from a spec.</summary>
    public static IModel<T> Create<T>(string spec, int seed = 0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(spec);
        var parts = spec.Split(':');
        var kind = parts[0].ToLowerInvariant();
        (int C, int H, int W) Chw((int, int, int) dflt)
        {
            if (parts.Length < 2)
                return dflt;
            var d = parts[1].Split('x').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            if (d.Length != 3)
                throw new FormatException($"'{spec}': input shape must be CxHxW, e.g. 1x28x28.");
            return (d[0], d[1], d[2]);
        }
        switch (kind)
        {
            case "mlp":
                return Mlp<T>.FromSpec(spec, seed);
            case "lenet5":
                {
                    var (c, h, w) = Chw((1, 28, 28));
                    return new LeNet5<T>(c, h, w, 10, seed);
                }
            case "cifarnet":
                {
                    var (c, h, w) = Chw((3, 32, 32));
                    return new CifarNet<T>(c, h, w, 10, seed);
                }
            case "cnn":
                return SmallCnn<T>.FromSpec(spec, seed);
            case "resnet20":
                {
                    var (c, h, w) = Chw((3, 32, 32));
                    return new ResNet20<T>(c, h, w, 10, seed);
                }
            default:
                throw new FormatException($"Unknown model spec '{spec}'; use mlp:784-300-100-10, lenet5, cifarnet, resnet20 or cnn:16-32[:bn].");
        }
    }

    /// <summary>
    /// Recognises an MLP state dict (fc1.weight [h1, in], fc2.weight [h2, h1], …, with or without biases) and builds the model
    /// with those weights loaded.
    /// </summary>
    /// <exception cref="NotSupportedException">The names do not form an fc1, fc2, … chain.</exception>
    public static IModel<float> FromStateDict(NamedTensors state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var foreign = state.Keys.FirstOrDefault(k => !k.StartsWith("fc", StringComparison.Ordinal));
        if (foreign is not null)
            throw new NotSupportedException($"'{foreign}' is not an MLP tensor (fc1.weight, fc1.bias, …): build this model by spec and call LoadStateDict.");
        var sizes = new List<int>();
        var i = 1;
        while (state.TryGetValue($"fc{i}.weight", out var w))
        {
            if (w.Shape.Length != 2)
                throw new NotSupportedException($"fc{i}.weight has shape [{string.Join(',', w.Shape)}]; an MLP layer weight is [out, in].");
            if (i == 1)
                sizes.Add(w.Shape[1]);
            else if (sizes[^1] != w.Shape[1])
                throw new NotSupportedException($"fc{i}.weight takes {w.Shape[1]} inputs but fc{i - 1} gives {sizes[^1]}.");
            sizes.Add(w.Shape[0]);
            i++;
        }
        if (sizes.Count < 2)
            throw new NotSupportedException("The state dict holds no fc1.weight: not recognised as an MLP (build CNNs by spec and LoadStateDict).");
        var bias = state.ContainsKey("fc1.bias");
        var model = new Mlp<float>(sizes.ToArray(), bias);
        model.LoadStateDict(state);
        return model;
    }
}
