using System.Numerics;
using WoodFisher.Models.Layers;

namespace WoodFisher.Models;

/// <summary>
/// CIFARNet-style small CNN for c×h×w input (h, w divisible by 4): conv1 (32, 3×3, pad 1) → ReLU → maxpool 2 → conv2 (64, 3×3,
/// pad 1) → ReLU → maxpool 2 → flatten → fc1 256 → ReLU → fc2 classes. Other widths (conv1, conv2, fc1) describe a CifarNet
/// whose units were removed by pruning; the spec then ends in <c>:C1-C2-F1</c>.
/// </summary>
public sealed class CifarNet<T> : Model<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Builds the network with seeded initialisation.</summary>
    public CifarNet(int channels = 3, int height = 32, int width = 32, int classes = 10, int seed = 0, int[]? widths = null)
        : base(ArchitectureSpec.Of("cifarnet", channels, height, width, widths ?? Standard, Standard), Build(channels, height, width, classes, seed, widths ?? Standard), [channels, height, width], classes)
    {
    }

    private static readonly int[] Standard = [32, 64, 256];

    private static Sequential<T> Build(int c, int h, int w, int classes, int seed, int[] widths)
    {
        var rng = new Random(seed);
        var (c1, c2, f1) = (widths[0], widths[1], widths[2]);
        return new Sequential<T>()
            .Add("conv1", new Conv2d<T>(c, c1, 3, 1, 1, true, rng)).Add("relu1", new Relu<T>()).Add("pool1", new MaxPool2d<T>(2))
            .Add("conv2", new Conv2d<T>(c1, c2, 3, 1, 1, true, rng)).Add("relu2", new Relu<T>()).Add("pool2", new MaxPool2d<T>(2))
            .Add("flatten", new Flatten<T>())
            .Add("fc1", new Linear<T>(c2 * (h / 4) * (w / 4), f1, true, rng)).Add("relu3", new Relu<T>())
            .Add("fc2", new Linear<T>(f1, classes, true, rng));
    }
}
