using System.Numerics;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models.Layers;

/// <summary>
/// ResNet basic block: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), 3×3 convolutions without bias; the shortcut is
/// the identity, or (when the stride or width changes) a 1×1 strided convolution + BatchNorm named <c>shortcut.0</c>,
/// <c>shortcut.1</c> (option B).
/// </summary>
public sealed class BasicBlock<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Conv2d<T> _conv1, _conv2;
    private readonly BatchNorm2d<T> _bn1, _bn2;
    private readonly Sequential<T>? _shortcut;

    /// <summary>Creates the block.</summary>
    public BasicBlock(int inPlanes, int planes, int stride, Random rng)
    {
        _conv1 = new Conv2d<T>(inPlanes, planes, 3, stride, 1, false, rng);
        _bn1 = new BatchNorm2d<T>(planes);
        _conv2 = new Conv2d<T>(planes, planes, 3, 1, 1, false, rng);
        _bn2 = new BatchNorm2d<T>(planes);
        if (stride != 1 || inPlanes != planes)
            _shortcut = new Sequential<T>().Add("0", new Conv2d<T>(inPlanes, planes, 1, stride, 0, false, rng)).Add("1", new BatchNorm2d<T>(planes));
    }

    /// <inheritdoc/>
    public override IEnumerable<(string Name, Module<T> Module)> Children
    {
        get
        {
            yield return ("conv1", _conv1);
            yield return ("bn1", _bn1);
            yield return ("conv2", _conv2);
            yield return ("bn2", _bn2);
            if (_shortcut is not null)
                yield return ("shortcut", _shortcut);
        }
    }

    /// <inheritdoc/>
    public override Tensor<T> Forward(Tape<T> tape, Tensor<T> x)
    {
        var h = Ops.Relu(tape, _bn1.Forward(tape, _conv1.Forward(tape, x)));
        h = _bn2.Forward(tape, _conv2.Forward(tape, h));
        var s = _shortcut is null ? x : _shortcut.Forward(tape, x);
        return Ops.Relu(tape, Ops.Add(tape, h, s));
    }
}
