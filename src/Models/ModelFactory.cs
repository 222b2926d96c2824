using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using WoodFisher.Kernels;

namespace WoodFisher.Models;

/// <summary>
/// Builds models from spec strings: <c>mlp:784-300-100-10[:nobias]</c>, <c>lenet5[:CxHxW[:C1-C2-F1-F2]]</c> (default
/// 1x28x28 and widths 6-16-120-84), <c>cifarnet[:CxHxW[:C1-C2-F1]]</c> (widths 32-64-256) and <c>resnet20[:CxHxW]</c> (default
/// 3x32x32), <c>cnn:C1-C2[:bn]</c> (1x28x28, <see cref="SmallCnn{T}"/>); 10 classes for the CNNs. Widths other than the
/// defaults describe a model whose units were removed by pruning. A spec is checked
/// whole before anything is built: every size positive, every layer and feature map small enough for one array, and the
/// parameters (with their gradients) within <see cref="MemoryBudget"/>.
/// </summary>
public static class ModelFactory
{
    private const int Classes = 10;

    /// <summary>Creates a float32 model from a spec.</summary>
    public static IModel<float> Create(string spec, int seed = 0) => Create<float>(spec, seed);

    /// <summary>Creates a model of element type <typeparamref name="T"/> from a spec.</summary>
    /// <exception cref="FormatException">The spec is malformed or describes layers too large for one array (the message names the spec).</exception>
    /// <exception cref="InsufficientMemoryException">The parameters and their gradients would not fit the memory budget.</exception>
    public static IModel<T> Create<T>(string spec, int seed = 0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var parsed = Parse(spec);
        MemoryBudget.Require(MemoryBudget.Product(parsed.Parameters, Unsafe.SizeOf<T>(), 2),
            $"The model {spec} ({parsed.Parameters:N0} parameters and their gradients)", "Use smaller layers or a smaller input.");
        var (c, h, w) = parsed.Input;
        return parsed.Kind switch
        {
            "mlp" => new Mlp<T>(parsed.Sizes, parsed.Bias, seed),
            "lenet5" => new LeNet5<T>(c, h, w, Classes, seed, parsed.Sizes.Length > 0 ? parsed.Sizes : null),
            "cifarnet" => new CifarNet<T>(c, h, w, Classes, seed, parsed.Sizes.Length > 0 ? parsed.Sizes : null),
            "cnn" => new SmallCnn<T>(parsed.Sizes[0], parsed.Sizes[1], parsed.BatchNorm, Classes, seed),
            _ => new ResNet20<T>(c, h, w, Classes, seed),
        };
    }

    /// <summary>The number of parameters (weights and biases) of the model <paramref name="spec"/> describes, computed without building it.</summary>
    /// <exception cref="FormatException">As <see cref="Create{T}"/>.</exception>
    public static long ParameterCount(string spec) => Parse(spec).Parameters;

    private sealed record Spec(string Kind, int[] Sizes, bool Bias, (int C, int H, int W) Input, long Parameters)
    {
        public bool BatchNorm { get; init; }
    }

    private static Spec Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        FormatException Bad(string why) => new($"'{spec}': {why}");
        var parts = spec.Split(':');
        var kind = parts[0].ToLowerInvariant();
        int Int(string s, string what) =>
            int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0 ? v
            : throw Bad($"{what} '{s}' is not a positive integer below 2³¹.");
        long Layer(long fanIn, long fanOut, bool bias, string name)
        {
            var weights = MemoryBudget.Product(fanIn, fanOut);
            if (fanIn > int.MaxValue || weights > Array.MaxLength)
                throw Bad($"layer {name} would hold {fanIn:N0} × {fanOut:N0} weights, more than one array can hold.");
            return weights + (bias ? fanOut : 0);
        }

        if (kind == "mlp")
        {
            if (parts.Length is < 2 or > 3 || parts.Length == 3 && !parts[2].Equals("nobias", StringComparison.OrdinalIgnoreCase))
                throw Bad("an MLP spec is mlp:784-300-100-10 or mlp:784-300-10:nobias.");
            var sizes = parts[1].Split('-').Select(s => Int(s, "layer size")).ToArray();
            if (sizes.Length < 2)
                throw Bad("an MLP needs at least two layer sizes (inputs and outputs).");
            var bias = parts.Length < 3;
            long total = 0;
            for (var i = 0; i + 1 < sizes.Length; i++)
                total = MemoryBudget.Sum(total, Layer(sizes[i], sizes[i + 1], bias, $"fc{i + 1}"));
            return new Spec(kind, sizes, bias, (sizes[0], 1, 1), total);
        }

        if (kind == "cnn")
        {
            if (parts.Length is < 2 or > 3 || parts.Length == 3 && !parts[2].Equals("bn", StringComparison.OrdinalIgnoreCase))
                throw Bad("a small CNN spec is cnn:C1-C2 or cnn:C1-C2:bn, e.g. cnn:16-32:bn.");
            var channels = parts[1].Split('-').Select(s => Int(s, "channel count")).ToArray();
            if (channels.Length != 2)
                throw Bad("a small CNN has two convolutions: cnn:C1-C2, e.g. cnn:16-32.");
            var bn = parts.Length == 3;
            long Conv3(long cin, long cout) => (cin * cout * 9) + cout;
            var total = MemoryBudget.Sum(Conv3(1, channels[0]) + (bn ? 2L * channels[0] : 0) + Conv3(channels[0], channels[1]),
                Layer(MemoryBudget.Product(channels[1], 7, 7), Classes, true, "fc"));
            return new Spec(kind, channels, true, (1, 28, 28), total) { BatchNorm = bn };
        }

        if (kind is not ("lenet5" or "cifarnet" or "resnet20"))
            throw new FormatException($"Unknown model spec '{spec}'; use mlp:784-300-100-10, lenet5, cifarnet, resnet20 or cnn:16-32[:bn].");
        var widthCount = kind switch { "lenet5" => 4, "cifarnet" => 3, _ => 0 };
        if (parts.Length > (widthCount > 0 ? 3 : 2))
            throw Bad(widthCount > 0 ? $"a {kind} spec is {kind}, {kind}:CxHxW or {kind}:CxHxW:{(kind == "lenet5" ? "C1-C2-F1-F2" : "C1-C2-F1")}." : "a CNN spec is NAME or NAME:CxHxW, e.g. resnet20:3x32x32.");
        var widths = parts.Length == 3 ? parts[2].Split('-').Select(s => Int(s, "width")).ToArray() : [];
        if (widths.Length is not 0 && widths.Length != widthCount)
            throw Bad($"{kind} takes {widthCount} widths ({(kind == "lenet5" ? "conv1-conv2-fc1-fc2" : "conv1-conv2-fc1")}), got {widths.Length}.");
        int Width(int i, int standard) => widths.Length > 0 ? widths[i] : standard;
        var chw = parts.Length < 2 ? (kind == "lenet5" ? [1, 28, 28] : [3, 32, 32])
            : parts[1].Split('x').Select(s => Int(s, "input size")).ToArray();
        if (chw.Length != 3)
            throw Bad("input shape must be CxHxW, e.g. 1x28x28.");
        var (c, h, w) = (chw[0], chw[1], chw[2]);

        // The widest feature map (32 channels at full size in cifarnet, or the widths given; the input channels may be wider) is one array per sample.
        var widest = MemoryBudget.Product(Math.Max(c, Math.Max(32, widths.Length > 0 ? Math.Max(widths[0], widths[1]) : 0)), h, w);
        if (widest > Array.MaxLength)
            throw Bad($"a {c}x{h}x{w} input gives feature maps of {widest:N0} values per sample, more than one array can hold.");
        long Conv(long cin, long cout, long k, bool bias) => (cin * cout * k * k) + (bias ? cout : 0);
        long parameters;
        switch (kind)
        {
            case "lenet5":
                {
                    int h2 = ((h / 2) - 4) / 2, w2 = ((w / 2) - 4) / 2;
                    if (h2 < 1 || w2 < 1)
                        throw Bad($"LeNet-5 needs an input of at least 12x12 (two 5×5 convolutions and two 2×2 pools); got {h}x{w}.");
                    int c1 = Width(0, 6), c2 = Width(1, 16), f1 = Width(2, 120), f2 = Width(3, 84);
                    parameters = Conv(c, c1, 5, true) + Conv(c1, c2, 5, true)
                        + Layer((long)c2 * h2 * w2, f1, true, "fc1") + Layer(f1, f2, true, "fc2") + Layer(f2, Classes, true, "fc3");
                    break;
                }
            case "cifarnet":
                if (h < 4 || w < 4)
                    throw Bad($"CifarNet needs an input of at least 4x4 (two 2×2 pools); got {h}x{w}.");
                {
                    int c1 = Width(0, 32), c2 = Width(1, 64), f1 = Width(2, 256);
                    parameters = Conv(c, c1, 3, true) + Conv(c1, c2, 3, true)
                        + Layer((long)c2 * (h / 4) * (w / 4), f1, true, "fc1") + Layer(f1, Classes, true, "fc2");
                }
                break;
            default:
                {
                    // conv1 + bn1, three stages of three basic blocks (conv-bn-conv-bn, 1×1 conv + bn shortcut when the shape changes), linear.
                    parameters = Conv(c, 16, 3, false) + (2 * 16);
                    long inPlanes = 16;
                    foreach (var planes in new long[] { 16, 32, 64 })
                    {
                        for (var b = 0; b < 3; b++)
                        {
                            parameters += Conv(inPlanes, planes, 3, false) + Conv(planes, planes, 3, false) + (4 * planes);
                            if (inPlanes != planes)
                                parameters += Conv(inPlanes, planes, 1, false) + (2 * planes);
                            inPlanes = planes;
                        }
                    }
                    parameters += Layer(64, Classes, true, "linear");
                    break;
                }
        }
        return new Spec(kind, widths, true, (c, h, w), parameters);
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
            throw new NotSupportedException($"'{IO.Printable.Escape(foreign)}' is not an MLP tensor (fc1.weight, fc1.bias, …): build this model by spec and call LoadStateDict.");
        var sizes = new List<int>();
        var i = 1;
        while (state.TryGetValue($"fc{i}.weight", out var w))
        {
            if (w.Shape.Length != 2 || w.Shape[0] < 1 || w.Shape[1] < 1)
                throw new NotSupportedException($"fc{i}.weight has shape [{string.Join(',', w.Shape)}]; an MLP layer weight is [out, in], both at least 1.");
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
        var model = Create<float>($"mlp:{string.Join('-', sizes)}{(bias ? "" : ":nobias")}");
        model.LoadStateDict(state);
        return model;
    }
}
