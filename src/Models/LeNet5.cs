using System.Numerics;
using WoodFisher.Models.Layers;

namespace WoodFisher.Models;

/// <summary>
/// LeNet-5 for c×h×w input (default 1×28×28): conv1 (6, 5×5, pad 2) → ReLU → maxpool 2 → conv2 (16, 5×5) → ReLU → maxpool 2
/// → flatten → fc1 120 → ReLU → fc2 84 → ReLU → fc3 classes. Other widths (conv1, conv2, fc1, fc2) describe a LeNet-5 whose
/// units were removed by pruning; the spec then ends in <c>:C1-C2-F1-F2</c>.
/// </summary>
public sealed class LeNet5<T> : Model<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Builds the network with seeded initialisation.</summary>
    public LeNet5(int channels = 1, int height = 28, int width = 28, int classes = 10, int seed = 0, int[]? widths = null)
        : base(ArchitectureSpec.Of("lenet5", channels, height, width, widths ?? Standard, Standard), Build(channels, height, width, classes, seed, widths ?? Standard), [channels, height, width], classes)
    {
    }

    private static readonly int[] Standard = [6, 16, 120, 84];

    private static Sequential<T> Build(int c, int h, int w, int classes, int seed, int[] widths)
    {
        var rng = new Random(seed);
        int h2 = (h / 2 - 4) / 2, w2 = (w / 2 - 4) / 2;
        var (c1, c2, f1, f2) = (widths[0], widths[1], widths[2], widths[3]);
        return new Sequential<T>()
            .Add("conv1", new Conv2d<T>(c, c1, 5, 1, 2, true, rng)).Add("relu1", new Relu<T>()).Add("pool1", new MaxPool2d<T>(2))
            .Add("conv2", new Conv2d<T>(c1, c2, 5, 1, 0, true, rng)).Add("relu2", new Relu<T>()).Add("pool2", new MaxPool2d<T>(2))
            .Add("flatten", new Flatten<T>())
            .Add("fc1", new Linear<T>(c2 * h2 * w2, f1, true, rng)).Add("relu3", new Relu<T>())
            .Add("fc2", new Linear<T>(f1, f2, true, rng)).Add("relu4", new Relu<T>())
            .Add("fc3", new Linear<T>(f2, classes, true, rng));
    }
}
