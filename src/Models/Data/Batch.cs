namespace WoodFisher.Models.Data;

/// <summary>A mini-batch: inputs X (Count × features, row-major), labels Y and the dataset indices they came from.</summary>
/// <param name="X">Inputs, Count × features, row-major (a fresh array per batch).</param>
/// <param name="Y">Class labels, Count.</param>
/// <param name="Indices">Index of each example in the dataset.</param>
public sealed record Batch(float[] X, int[] Y, int[] Indices)
{
    /// <summary>Examples in the batch.</summary>
    public int Count => Y.Length;
}
