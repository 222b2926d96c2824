using WoodFisher.Kernels;
using WoodFisher.Kernels.Sparse;
using WoodFisher.Models.Layers;

namespace WoodFisher.Models.Inference;

public sealed partial class InferenceModel
{
    /// <summary>Walks the module tree into engine layers, tracking the feature map.</summary>
    /// <remarks>Each weight is asked for once: compilers given the same <paramref name="compiled"/> share the matrices.</remarks>
    private sealed class Compiler(Func<string, float[], int, int, IWeightMatrix> weights, int maxBatch, Dictionary<string, IWeightMatrix> compiled)
    {
        public SequenceLayer Sequence(Module<float> module, string prefix, FeatureMap input)
        {
            var layers = new List<InferenceLayer>();
            try
            {
                var map = input;
                foreach (var l in Layers(module, prefix, map))
                {
                    // The product applies a ReLU that follows a Linear layer to each part it computes, while the part is in
                    // the cache of the core that wrote it.
                    if (l is ReluLayer && layers.Count > 0 && layers[^1] is LinearLayer { Relu: false } linear)
                    {
                        linear.Relu = true;
                        continue;
                    }

                    layers.Add(l);
                    map = l.Output;
                }
                return new SequenceLayer(input, layers);
            }
            catch
            {
                foreach (var l in layers)
                    l.Dispose();
                throw;
            }
        }

        private IEnumerable<InferenceLayer> Layers(Module<float> module, string prefix, FeatureMap map)
        {
            switch (module)
            {
                case Sequential<float> s:
                    foreach (var (name, child) in s.Children)
                    {
                        var seq = Sequence(child, prefix + name + ".", map);
                        map = seq.Output;
                        if (seq.Layers.Count == 1)
                            yield return seq.Layers[0];
                        else
                            yield return seq;
                    }
                    break;
                case Linear<float> l:
                    if (map.Size != l.Weight.Shape[1])
                        throw new NotSupportedException($"{prefix}weight takes {l.Weight.Shape[1]} inputs but the layer before gives {map}.");
                    yield return new LinearLayer(prefix + "weight", Matrix(prefix + "weight", l.Weight.Data, l.Weight.Shape[0], l.Weight.Shape[1]),
                        l.Bias?.ToFloats(), new FeatureMap(map.Size, 1, 1), maxBatch);
                    break;
                case Conv2d<float> c:
                    {
                        var (cout, cin, k) = (c.Weight.Shape[0], c.Weight.Shape[1], c.Weight.Shape[2]);
                        if (map.Channels != cin || map.Height == 1 && map.Width == 1 && k > 1)
                            throw new NotSupportedException($"{prefix}weight takes {cin} channels but the layer before gives {map}.");
                        yield return new ConvolutionLayer(prefix + "weight", Matrix(prefix + "weight", c.Weight.Data, cout, cin * k * k),
                            c.Bias?.ToFloats(), map, k, c.Stride, c.Padding, maxBatch);
                        break;
                    }
                case Relu<float>:
                    yield return new ReluLayer(map);
                    break;
                case Dropout<float>:
                    break;
                case MaxPool2d<float> p:
                    yield return new PoolLayer(map, p.Kernel, p.Stride, max: true, maxBatch);
                    break;
                case AvgPool2d<float> p:
                    yield return new PoolLayer(map, p.Kernel, p.Stride, max: false, maxBatch);
                    break;
                case Flatten<float>:
                    yield return new FlattenLayer(map, maxBatch);
                    break;
                case GlobalAvgPool2d<float>:
                    yield return new GlobalAveragePoolLayer(map, maxBatch);
                    break;
                case BatchNorm2d<float> bn:
                    yield return BatchNorm(bn, map);
                    break;
                case BasicBlock<float> block:
                    yield return Residual(block, prefix, map);
                    break;
                default:
                    throw new NotSupportedException($"The inference engine does not run {module.GetType().Name.Split('`')[0]} ({prefix.TrimEnd('.')}).");
            }
        }

        private ResidualLayer Residual(BasicBlock<float> block, string prefix, FeatureMap map)
        {
            var children = block.Children.ToDictionary(c => c.Name, c => c.Module);
            var main = new Sequential<float>()
                .Add("conv1", children["conv1"]).Add("bn1", children["bn1"]).Add("relu", new Relu<float>())
                .Add("conv2", children["conv2"]).Add("bn2", children["bn2"]);
            var m = Sequence(main, prefix, map);
            try
            {
                var s = children.TryGetValue("shortcut", out var shortcut) ? Sequence(shortcut, prefix + "shortcut.", map) : null;
                return new ResidualLayer(m, s);
            }
            catch
            {
                m.Dispose();
                throw;
            }
        }

        private static AffineChannelLayer BatchNorm(BatchNorm2d<float> bn, FeatureMap map)
        {
            var c = map.Channels;
            var scale = new float[c];
            var shift = new float[c];
            for (var i = 0; i < c; i++)
            {
                var s = bn.Weight.Data[i] / MathF.Sqrt(bn.RunningVar.Data[i] + 1e-5f);
                scale[i] = s;
                shift[i] = bn.Bias.Data[i] - (bn.RunningMean.Data[i] * s);
            }
            return new AffineChannelLayer(map, scale, shift);
        }

        private IWeightMatrix Matrix(string name, float[] data, int rows, int columns)
        {
            if (compiled.TryGetValue(name, out var known))
                return known;
            MemoryBudget.Require(MemoryBudget.Product(rows, columns, sizeof(float)), $"The weight {name} ({rows} × {columns})");
            var m = weights(name, (float[])data.Clone(), rows, columns);
            if (m.Rows != rows || m.Columns != columns)
                throw new ArgumentException($"The matrix given for {name} is {m.Rows} × {m.Columns}; the layer needs {rows} × {columns}.");
            compiled[name] = m;
            return m;
        }
    }
}
