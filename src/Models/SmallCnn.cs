using System.Globalization;
using System.Numerics;
using WoodFisher.Models.Layers;

namespace WoodFisher.Models;

/// <summary>
/// A small CNN for 1×28×28 input, spec <c>cnn:C1-C2[:bn]</c>: conv1 (C1, 3×3, pad 1) → [bn1] → ReLU → maxpool 2 → conv2
/// (C2, 3×3, pad 1) → ReLU → maxpool 2 → flatten → <c>fc</c> (C2·7·7 → classes). PyTorch names, so a model trained by
/// <c>bench/pytorch/fidelity_models.py</c> loads as it is.
/// </summary>
public sealed class SmallCnn<T> : Model<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Builds the network with seeded initialisation.</summary>
    public SmallCnn(int channels1 = 16, int channels2 = 32, bool batchNorm = false, int classes = 10, int seed = 0)
        : base(SpecOf(channels1, channels2, batchNorm), Build(channels1, channels2, batchNorm, classes, seed), [1, 28, 28], classes)
    {
    }

    private static string SpecOf(int c1, int c2, bool bn) => string.Create(CultureInfo.InvariantCulture, $"cnn:{c1}-{c2}{(bn ? ":bn" : "")}");

    private static Sequential<T> Build(int c1, int c2, bool bn, int classes, int seed)
    {
        var rng = new Random(seed);
        var s = new Sequential<T>().Add("conv1", new Conv2d<T>(1, c1, 3, 1, 1, true, rng));
        if (bn)
            s.Add("bn1", new BatchNorm2d<T>(c1));
        return s.Add("relu1", new Relu<T>()).Add("pool1", new MaxPool2d<T>(2))
            .Add("conv2", new Conv2d<T>(c1, c2, 3, 1, 1, true, rng)).Add("relu2", new Relu<T>()).Add("pool2", new MaxPool2d<T>(2))
            .Add("flatten", new Flatten<T>())
            .Add("fc", new Linear<T>(c2 * 7 * 7, classes, true, rng));
    }
}
