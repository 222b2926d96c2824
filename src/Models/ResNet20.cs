using System.Numerics;
using WoodFisher.Models.Layers;

namespace WoodFisher.Models;

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
