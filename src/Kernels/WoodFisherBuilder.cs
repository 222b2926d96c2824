namespace WoodFisher.Kernels;

/// <summary>
/// Builds the block-diagonal WoodFisher inverse from gradients streamed in chunks of rows (row-major, rows × d),
/// so the whole gradient matrix G need not be in memory.
/// </summary>
public sealed class WoodFisherBuilder : IDisposable
{
    /// <summary>Starts a builder for d = <paramref name="dimension"/> coordinates.</summary>
    public WoodFisherBuilder(int dimension, WoodFisherOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        throw new NotImplementedException();
    }

    /// <summary>The block partition.</summary>
    public BlockLayout Layout => throw new NotImplementedException();

    /// <summary>Adds <paramref name="rows"/> gradients (rows × d row-major, float32).</summary>
    public void Add(ReadOnlySpan<float> gradients, int rows) => throw new NotImplementedException();

    /// <summary>Adds <paramref name="rows"/> gradients (rows × d row-major, float64).</summary>
    public void Add(ReadOnlySpan<double> gradients, int rows) => throw new NotImplementedException();

    /// <summary>Finishes the inverse; the builder cannot be used afterwards.</summary>
    public WoodFisherInverse Build() => throw new NotImplementedException();

    /// <summary>One-call form: the inverse of all <paramref name="rows"/> gradients in <paramref name="gradients"/>.</summary>
    public static WoodFisherInverse Compute(ReadOnlySpan<float> gradients, int rows, int dimension, WoodFisherOptions options)
    {
        using var b = new WoodFisherBuilder(dimension, options);
        b.Add(gradients, rows);
        return b.Build();
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }
}
