namespace WoodFisher.Models;

/// <summary>
/// A state dict: PyTorch names (<c>fc1.weight</c>, <c>bn1.running_mean</c>) → (shape, float32 row-major values), in the
/// model's order. This is what a safetensors file holds; the I/O layer reads and writes it.
/// </summary>
public sealed class NamedTensors : OrderedDictionary<string, (int[] Shape, float[] Data)>
{
    /// <summary>Creates an empty map.</summary>
    public NamedTensors() : base(StringComparer.Ordinal)
    {
    }
}
