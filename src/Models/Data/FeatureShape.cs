namespace WoodFisher.Models.Data;

/// <summary>The shape of one example: channels × height × width (1 × 28 × 28 for Fashion-MNIST).</summary>
/// <param name="Channels">Channels.</param>
/// <param name="Height">Rows.</param>
/// <param name="Width">Columns.</param>
public readonly record struct FeatureShape(int Channels, int Height, int Width)
{
    /// <summary>Features per example (C·H·W).</summary>
    public int Size => Channels * Height * Width;

    /// <inheritdoc/>
    public override string ToString() => $"{Channels}x{Height}x{Width}";
}
