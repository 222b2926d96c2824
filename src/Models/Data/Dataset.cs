namespace WoodFisher.Models.Data;

/// <summary>
/// An in-memory labelled image set: <see cref="Images"/> is Count × <see cref="FeatureShape"/>.Size float32
/// (row-major, pixels in [0, 1] for IDX data), <see cref="Labels"/> the class of each.
/// Batching is deterministic; shuffling is seeded.
/// </summary>
public sealed class Dataset
{
    /// <summary>Wraps images and labels (not copied).</summary>
    /// <param name="images">Count × shape.Size floats, row-major.</param>
    /// <param name="labels">Count labels in [0, classCount).</param>
    /// <param name="shape">Shape of one example.</param>
    /// <param name="classCount">Number of classes (10 for Fashion-MNIST).</param>
    /// <param name="name">Description used in messages (e.g. where it was loaded from).</param>
    public Dataset(float[] images, int[] labels, FeatureShape shape, int classCount = 10, string name = "dataset")
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if (shape.Size <= 0)
            throw new ArgumentOutOfRangeException(nameof(shape), shape, "feature shape must be positive");
        if ((long)labels.Length * shape.Size != images.Length)
            throw new ArgumentException($"{labels.Length} labels × {shape.Size} features ≠ {images.Length} image values", nameof(images));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classCount);
        foreach (var y in labels)
        {
            if ((uint)y >= (uint)classCount)
                throw new ArgumentException($"label {y} outside [0, {classCount})", nameof(labels));
        }
        Images = images;
        Labels = labels;
        FeatureShape = shape;
        ClassCount = classCount;
        Name = name;
    }

    /// <summary>All inputs, Count × Features, row-major.</summary>
    public float[] Images { get; }

    /// <summary>All labels.</summary>
    public int[] Labels { get; }

    /// <summary>Shape of one example (channels, height, width).</summary>
    public FeatureShape FeatureShape { get; }

    /// <summary>Features per example.</summary>
    public int Features => FeatureShape.Size;

    /// <summary>Number of examples.</summary>
    public int Count => Labels.Length;

    /// <summary>Number of classes.</summary>
    public int ClassCount { get; }

    /// <summary>Where the data came from (for logs).</summary>
    public string Name { get; }

    /// <summary>The features of example <paramref name="index"/>.</summary>
    public ReadOnlySpan<float> GetImage(int index) => Images.AsSpan(checked(index * Features), Features);

    /// <summary>Examples [start, start + count) as a new dataset (copied).</summary>
    public Dataset Slice(int start, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(start + (long)count, Count, nameof(count));
        return new Dataset(
            Images.AsSpan(start * Features, count * Features).ToArray(),
            Labels.AsSpan(start, count).ToArray(),
            FeatureShape, ClassCount, Name);
    }

    /// <summary>The first min(n, Count) examples.</summary>
    public Dataset Take(int n) => Slice(0, Math.Min(Math.Max(n, 0), Count));

    /// <summary>
    /// One epoch of mini-batches. Without a seed, examples come in order. With a seed, the order is a
    /// Fisher–Yates permutation drawn from <c>new Random(seed·1000003 + epoch·7919)</c> (a
    /// deterministic function of seed and epoch, the same on every run and machine).
    /// </summary>
    /// <param name="batchSize">Examples per batch (the last may be smaller unless <paramref name="dropLast"/>).</param>
    /// <param name="shuffleSeed">Null for dataset order.</param>
    /// <param name="epoch">Epoch number; mixes into the seed so each epoch is a different permutation.</param>
    /// <param name="dropLast">Skip the final partial batch.</param>
    public IEnumerable<Batch> Batches(int batchSize, int? shuffleSeed = null, int epoch = 0, bool dropLast = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        var order = Order(shuffleSeed, epoch);
        return Iterate(order, batchSize, dropLast);
    }

    /// <summary>The example order <see cref="Batches"/> uses for this seed and epoch.</summary>
    public int[] Order(int? shuffleSeed, int epoch = 0)
    {
        var order = new int[Count];
        for (int i = 0; i < order.Length; i++)
            order[i] = i;
        if (shuffleSeed is int seed)
        {
            var rng = new Random(unchecked(seed * 1_000_003 + epoch * 7919));
            for (int i = order.Length - 1; i > 0; i--)
            {
                int j = rng.Next(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
        }
        return order;
    }

    private IEnumerable<Batch> Iterate(int[] order, int batchSize, bool dropLast)
    {
        int f = Features;
        for (int start = 0; start < order.Length; start += batchSize)
        {
            int n = Math.Min(batchSize, order.Length - start);
            if (dropLast && n < batchSize)
                yield break;
            var x = new float[n * f];
            var y = new int[n];
            var idx = order.AsSpan(start, n).ToArray();
            for (int i = 0; i < n; i++)
            {
                Images.AsSpan(idx[i] * f, f).CopyTo(x.AsSpan(i * f, f));
                y[i] = Labels[idx[i]];
            }
            yield return new Batch(x, y, idx);
        }
    }
}
