using System.Numerics;
using WoodFisher.Models.Layers;

namespace WoodFisher.Models;

/// <summary>
/// CIFARNet-style small CNN for c×h×w input (h, w divisible by 4): conv1 (32, 3×3, pad 1) → ReLU → maxpool 2 → conv2 (64, 3×3,
/// pad 1) → ReLU → maxpool 2 → flatten → fc1 256 → ReLU → fc2 classes.
/// </summary>
public sealed class CifarNet<T> : Model<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Builds the network with seeded initialisation.</summary>
    public CifarNet(int channels = 3, int height = 32, int width = 32, int classes = 10, int seed = 0)
        : base($"cifarnet:{channels}x{height}x{width}", Build(channels, height, width, classes, seed), [channels, height, width], classes)
    {
    }

    private static Sequential<T> Build(int c, int h, int w, int classes, int seed)
    {
        var rng = new Random(seed);
        return new Sequential<T>()
            .Add("conv1", new Conv2d<T>(c, 32, 3, 1, 1, true, rng)).Add("relu1", new Relu<T>()).Add("pool1", new MaxPool2d<T>(2))
            .Add("conv2", new Conv2d<T>(32, 64, 3, 1, 1, true, rng)).Add("relu2", new Relu<T>()).Add("pool2", new MaxPool2d<T>(2))
            .Add("flatten", new Flatten<T>())
            .Add("fc1", new Linear<T>(64 * (h / 4) * (w / 4), 256, true, rng)).Add("relu3", new Relu<T>())
            .Add("fc2", new Linear<T>(256, classes, true, rng));
    }
}
