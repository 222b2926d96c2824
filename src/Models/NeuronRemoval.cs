using WoodFisher.Models.Layers;

namespace WoodFisher.Models;

/// <summary>Units of one layer before and after <see cref="NeuronRemoval.Shrink"/>.</summary>
/// <param name="Layer">The layer's name (e.g. <c>fc1</c>).</param>
/// <param name="Before">Units (neurons or filters) before.</param>
/// <param name="After">Units kept.</param>
/// <param name="Constant">Units whose incoming weights are all zero but which were kept, because their constant output could not be folded exactly (see <see cref="NeuronRemoval"/>).</param>
public sealed record UnitCount(string Layer, int Before, int After, int Constant);

/// <summary>The smaller model and what was removed.</summary>
/// <param name="Model">The smaller dense model (eval mode); its spec has the new widths.</param>
/// <param name="Units">Per hidden layer, units before and after.</param>
public sealed record NeuronRemovalResult(IModel<float> Model, IReadOnlyList<UnitCount> Units);

/// <summary>
/// Turns a model whose hidden units have all-zero incoming weights (what the <c>neurons</c> pattern leaves) into a smaller
/// dense model that computes the same function: each such unit is deleted with its bias, its BatchNorm channel and the next
/// layer's matching inputs (for a Linear layer after a flatten, the unit's whole feature map).
/// </summary>
/// <remarks>
/// A unit with zero incoming weights still outputs a constant c = f(b), f its chain of BatchNorm, ReLU and pooling (for a
/// filter, a constant map): c = 0 when the bias was pruned with it. Before deleting it, c times its outgoing weights is added
/// to the next layer's bias, which is exact for a Linear consumer and for a convolution without padding. A unit with c ≠ 0
/// feeding a padded convolution (the border sees the padding, not c) or a layer without bias is kept, so the result is
/// always the same function; <see cref="UnitCount.Constant"/> counts those. Works on sequential models (MLP, LeNet-5,
/// CifarNet); ResNet's channels are shared by its residual sums and are refused.
/// </remarks>
public static class NeuronRemoval
{
    /// <summary>Refuses, before any work, a model whose units cannot be removed (not a sequential MLP, LeNet-5 or CifarNet).</summary>
    /// <exception cref="NotSupportedException">The model is not one of those.</exception>
    public static void Check(IModel<float> model) => Flatten(model);

    /// <summary>Removes the zero-input units of <paramref name="model"/> (which is not changed).</summary>
    /// <exception cref="NotSupportedException">The model is not a sequential MLP, LeNet-5 or CifarNet.</exception>
    public static NeuronRemovalResult Shrink(IModel<float> model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var chain = Flatten(model);
        var producers = chain.Select((m, i) => (m, i)).Where(t => t.m.Module is Linear<float> or Conv2d<float>).Select(t => t.i).ToArray();
        var state = model.StateDict();
        var kept = new Dictionary<string, int[]>();
        var counts = new List<UnitCount>();
        for (var p = 0; p + 1 < producers.Length; p++)
        {
            // Biases come from the state, which holds what earlier removals folded into them.
            var (name, module) = chain[producers[p]];
            var (weight, rows) = Parts(module);
            var bias = state.TryGetValue(name + ".bias", out var b) ? b.Data : null;
            var columns = weight.Length / rows;
            var between = chain.Skip(producers[p] + 1).Take(producers[p + 1] - producers[p] - 1).ToList();
            var (consumerName, consumer) = chain[producers[p + 1]];
            var (nextWeight, nextRows) = Parts(consumer);
            var nextColumns = nextWeight.Length / nextRows;
            var keep = new List<int>();
            var constant = 0;
            var foldedBias = state.TryGetValue(consumerName + ".bias", out var nb) ? nb.Data.ToArray() : null;
            for (var u = 0; u < rows; u++)
            {
                if (weight.AsSpan(u * columns, columns).ContainsAnyExcept(0f))
                {
                    keep.Add(u);
                    continue;
                }

                var c = ConstantOutput(bias?[u] ?? 0f, u, between);
                if (c != 0 && (foldedBias is null || consumer is Conv2d<float> { Padding: > 0 }))
                {
                    keep.Add(u);
                    constant++;
                    continue;
                }

                if (c != 0)
                {
                    // Input columns of unit u in the consumer: spread consecutive features (a flattened map) or k·k taps.
                    var first = u * (nextColumns / rows);
                    var width = nextColumns / rows;
                    for (var o = 0; o < nextRows; o++)
                    {
                        double s = 0;
                        for (var j = first; j < first + width; j++)
                            s += nextWeight[(o * nextColumns) + j];
                        foldedBias![o] += (float)(c * s);
                    }
                }
            }

            if (keep.Count == 0)
                keep.Add(0);
            kept[name] = [.. keep];
            if (foldedBias is not null)
                state[consumerName + ".bias"] = (state[consumerName + ".bias"].Shape, foldedBias);
            counts.Add(new UnitCount(name, rows, keep.Count, constant));
        }

        var spec = SpecOf(model, chain, kept);
        var smaller = ModelFactory.Create(spec);
        smaller.LoadStateDict(Slice(state, chain, kept));
        smaller.Training = false;
        return new NeuronRemovalResult(smaller, counts);
    }

    /// <summary>
    /// <paramref name="model"/> with its zero-input units removed (<see cref="Shrink"/>), or <paramref name="model"/> itself
    /// with no units listed when it has none that can be, or is not a model <see cref="Shrink"/> takes.
    /// </summary>
    public static NeuronRemovalResult WithoutZeroUnits(IModel<float> model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model is not (Mlp<float> or LeNet5<float> or CifarNet<float>) || !HasZeroUnit(Flatten(model)))
            return new NeuronRemovalResult(model, []);
        var r = Shrink(model);
        return r.Units.Any(u => u.After < u.Before) ? r : new NeuronRemovalResult(model, []);
    }

    /// <summary>Whether a producer other than the last has a unit whose incoming weights are all zero.</summary>
    private static bool HasZeroUnit(List<(string Name, Module<float> Module)> chain)
    {
        var producers = chain.Where(t => t.Module is Linear<float> or Conv2d<float>).SkipLast(1);
        foreach (var (_, module) in producers)
        {
            var (weight, rows) = Parts(module);
            var columns = weight.Length / rows;
            for (var u = 0; u < rows; u++)
            {
                if (!weight.AsSpan(u * columns, columns).ContainsAnyExcept(0f))
                    return true;
            }
        }

        return false;
    }

    private static List<(string Name, Module<float> Module)> Flatten(IModel<float> model)
    {
        if (model is not Model<float> m || model is not (Mlp<float> or LeNet5<float> or CifarNet<float>))
            throw new NotSupportedException($"Neuron removal works on sequential models (MLP, LeNet-5, CifarNet); {model.Spec} is not one (ResNet's channels are shared by its residual sums).");
        var list = new List<(string, Module<float>)>();
        void Walk(Module<float> module, string prefix)
        {
            if (module is Sequential<float> s)
            {
                foreach (var (n, c) in s.Children)
                    Walk(c, prefix + n + ".");
            }
            else
            {
                list.Add((prefix.TrimEnd('.'), module));
            }
        }

        Walk(m.Root, "");
        return list;
    }

    private static (float[] Weight, int Rows) Parts(Module<float> module) => module switch
    {
        Linear<float> l => (l.Weight.Data, l.Weight.Shape[0]),
        Conv2d<float> c => (c.Weight.Data, c.Weight.Shape[0]),
        _ => throw new NotSupportedException($"{module.GetType().Name} has no units."),
    };

    /// <summary>f(b) for unit u: BatchNorm's affine map, ReLU; pooling, dropout and flatten keep a constant.</summary>
    private static double ConstantOutput(double v, int u, List<(string Name, Module<float> Module)> chain)
    {
        foreach (var (_, m) in chain)
        {
            v = m switch
            {
                BatchNorm2d<float> bn => ((v - bn.RunningMean.Data[u]) / Math.Sqrt(bn.RunningVar.Data[u] + 1e-5) * bn.Weight.Data[u]) + bn.Bias.Data[u],
                Relu<float> => Math.Max(v, 0),
                MaxPool2d<float> or AvgPool2d<float> or Dropout<float> or Flatten<float> => v,
                _ => throw new NotSupportedException($"Neuron removal cannot pass a unit through {m.GetType().Name}."),
            };
        }

        return (float)v;
    }

    private static string SpecOf(IModel<float> model, List<(string Name, Module<float> Module)> chain, Dictionary<string, int[]> kept)
    {
        int Width(string name) => kept[name].Length;
        var (c, h, w) = model.InputShape.Length == 3 ? (model.InputShape[0], model.InputShape[1], model.InputShape[2]) : (0, 0, 0);
        return model switch
        {
            Mlp<float> mlp => "mlp:" + string.Join('-', new[] { mlp.Sizes[0] }.Concat(chain.Where(t => t.Module is Linear<float>).SkipLast(1).Select(t => Width(t.Name))).Append(mlp.Sizes[^1]))
                + (mlp.HasBias ? "" : ":nobias"),
            LeNet5<float> => $"lenet5:{c}x{h}x{w}:{Width("conv1")}-{Width("conv2")}-{Width("fc1")}-{Width("fc2")}",
            _ => $"cifarnet:{c}x{h}x{w}:{Width("conv1")}-{Width("conv2")}-{Width("fc1")}",
        };
    }

    /// <summary>The state dict of the smaller model: kept output units of each producer, kept inputs of each consumer, kept BatchNorm channels.</summary>
    private static NamedTensors Slice(NamedTensors state, List<(string Name, Module<float> Module)> chain, Dictionary<string, int[]> kept)
    {
        var result = new NamedTensors();
        int[]? inputs = null;
        var inputUnits = 0;
        foreach (var (name, module) in chain)
        {
            switch (module)
            {
                case Linear<float> or Conv2d<float>:
                    {
                        var (shape, data) = state[name + ".weight"];
                        var outs = kept.TryGetValue(name, out var k) ? k : [.. Enumerable.Range(0, shape[0])];
                        var columns = data.Length / shape[0];
                        var cols = inputs is null ? Enumerable.Range(0, columns).ToArray() : Columns(inputs, inputUnits, columns);
                        var w = new float[outs.Length * cols.Length];
                        for (var r = 0; r < outs.Length; r++)
                        {
                            for (var j = 0; j < cols.Length; j++)
                                w[(r * cols.Length) + j] = data[(outs[r] * columns) + cols[j]];
                        }

                        int[] newShape = [outs.Length, .. shape[1..]];
                        if (inputs is not null)
                            newShape[1] = module is Conv2d<float> ? inputs.Length : cols.Length;
                        result[name + ".weight"] = (newShape, w);
                        if (state.TryGetValue(name + ".bias", out var b))
                            result[name + ".bias"] = ([outs.Length], [.. outs.Select(o => b.Data[o])]);
                        inputs = outs;
                        inputUnits = shape[0];
                        break;
                    }
                case BatchNorm2d<float>:
                    foreach (var part in new[] { "weight", "bias", "running_mean", "running_var" })
                    {
                        var (_, data) = state[name + "." + part];
                        result[name + "." + part] = ([inputs!.Length], [.. inputs.Select(u => data[u])]);
                    }

                    if (state.TryGetValue(name + ".num_batches_tracked", out var n))
                        result[name + ".num_batches_tracked"] = n;
                    break;
            }
        }

        return result;
    }

    /// <summary>Input columns of a consumer whose producer kept <paramref name="units"/> of <paramref name="total"/>: each unit owns columns/total consecutive columns.</summary>
    private static int[] Columns(int[] units, int total, int columns)
    {
        var per = columns / total;
        return [.. units.SelectMany(u => Enumerable.Range(u * per, per))];
    }
}
