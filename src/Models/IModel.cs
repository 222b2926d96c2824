using System.Numerics;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models;

/// <summary>
/// A classifier: input x [n, …<see cref="InputShape"/>] → logits [n, <see cref="NumClasses"/>], with named parameters in a
/// fixed order (PyTorch names and layouts), train/eval mode and a state dict.
/// </summary>
/// <typeparam name="T">Element type (float for training and pruning, double for gradient checks).</typeparam>
public interface IModel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The spec string this model was built from (e.g. <c>mlp:784-300-100-10</c>).</summary>
    string Spec { get; }

    /// <summary>Per-sample input shape: [784] for an MLP, [c, h, w] for a CNN.</summary>
    int[] InputShape { get; }

    /// <summary>Number of classes (logits per sample).</summary>
    int NumClasses { get; }

    /// <summary>All trainable parameters, in order (each layer's weight, then its bias), with full names.</summary>
    IReadOnlyList<Parameter<T>> Parameters { get; }

    /// <summary>Training mode (BatchNorm batch statistics, Dropout on) when true; eval mode when false.</summary>
    bool Training { get; set; }

    /// <summary>Runs the network on x [n, …InputShape] and returns logits [n, classes], recording on <paramref name="tape"/>.</summary>
    Tensor<T> Forward(Tape<T> tape, Tensor<T> x);

    /// <summary>Parameters and buffers as float32 under PyTorch names (copies).</summary>
    NamedTensors StateDict();

    /// <summary>Loads parameters and buffers by name; shapes must match. BatchNorm's <c>num_batches_tracked</c> may be absent.</summary>
    void LoadStateDict(NamedTensors state, bool strict = true);
}
