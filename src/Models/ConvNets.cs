using System.Numerics;
using WoodFisher.Models.Layers;

namespace WoodFisher.Models;

/// <summary>
/// LeNet-5 for c×h×w input (default 1×28×28): conv1 (6, 5×5, pad 2) → ReLU → maxpool 2 → conv2 (16, 5×5) → ReLU → maxpool 2
/// → flatten → fc1 120 → ReLU → fc2 84 → ReLU → fc3 classes.
/// </summary>
public sealed class LeNet5<T> : Model<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Builds the network with seeded initialisation.</summary>
    public LeNet5(int channels = 1, int height = 28, int width = 28, int classes = 10, int seed = 0)
        : base($"lenet5:{channels}x{height}x{width}", Build(channels, height, width, classes, seed), [channels, height, width], classes)
    {
    }

    private static Sequential<T> Build(int c, int h, int w, int classes, int seed)
    {
        var rng = new Random(seed);
        int h2 = (h / 2 - 4) / 2, w2 = (w / 2 - 4) / 2;
        return new Sequential<T>()
            .Add("conv1", new Conv2d<T>(c, 6, 5, 1, 2, true, rng)).Add("relu1", new Relu<T>()).Add("pool1", new MaxPool2d<T>(2))
            .Add("conv2", new Conv2d<T>(6, 16, 5, 1, 0, true, rng)).Add("relu2", new Relu<T>()).Add("pool2", new MaxPool2d<T>(2))
            .Add("flatten", new Flatten<T>())
            .Add("fc1", new Linear<T>(16 * h2 * w2, 120, true, rng)).Add("relu3", new Relu<T>())
            .Add("fc2", new Linear<T>(120, 84, true, rng)).Add("relu4", new Relu<T>())
            .Add("fc3", new Linear<T>(84, classes, true, rng));
    }
}

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

/// <summary>
/// ResNet-20 (CIFAR layout, He et al. 2016): conv1 (16, 3×3) → bn1 → ReLU → layer1..3 (3 basic blocks each, widths 16/32/64,
/// stride 2 at the start of layers 2 and 3, option-B shortcuts) → global average pool → <c>linear</c> classes.
/// </summary>
public sealed class ResNet20<T> : Model<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Builds the network with seeded initialisation.</summary>
    public ResNet20(int channels = 3, int height = 32, int width = 32, int classes = 10, int seed = 0)
        : base($"resnet20:{channels}x{height}x{width}", Build(channels, classes, seed), [channels, height, width], classes)
    {
    }

    private static Sequential<T> Build(int c, int classes, int seed)
    {
        var rng = new Random(seed);
        var s = new Sequential<T>()
            .Add("conv1", new Conv2d<T>(c, 16, 3, 1, 1, false, rng)).Add("bn1", new BatchNorm2d<T>(16)).Add("relu", new Relu<T>());
        var inPlanes = 16;
        int[] widths = [16, 32, 64];
        for (var l = 0; l < 3; l++)
        {
            var layer = new Sequential<T>();
            for (var b = 0; b < 3; b++)
            {
                var stride = l > 0 && b == 0 ? 2 : 1;
                layer.Add(b.ToString(System.Globalization.CultureInfo.InvariantCulture), new BasicBlock<T>(inPlanes, widths[l], stride, rng));
                inPlanes = widths[l];
            }
            s.Add($"layer{l + 1}", layer);
        }
        return s.Add("pool", new GlobalAvgPool2d<T>()).Add("linear", new Linear<T>(64, classes, true, rng));
    }
}
