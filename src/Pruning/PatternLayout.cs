namespace WoodFisher.Pruning;

/// <summary>One prunable weight of a <see cref="PatternLayout"/>, seen as a matrix: rows are output units, columns inputs.</summary>
/// <param name="Segment">Its segment.</param>
/// <param name="Offset">First coordinate.</param>
/// <param name="Rows">Output units (shape[0]).</param>
/// <param name="Columns">Inputs per unit (the product of the other dimensions: in, or in·k·k for a convolution).</param>
/// <param name="BiasOffset">First coordinate of the layer's bias when it is a segment of its own right after the weight, else −1.</param>
public readonly record struct PatternMatrix(int Segment, int Offset, int Rows, int Columns, int BiasOffset);

/// <summary>
/// The coordinates a pattern works on: the segments (tensors, in order) with their shapes and prunable flags. A prunable
/// segment of shape [out, …] (rank 2 or more) is a matrix out × (product of the rest), row-major as PyTorch stores it; a
/// segment of shape [out] right after it is that layer's bias (whether or not it is flagged prunable), and is in no matrix.
/// Without shapes every prunable segment is one row.
/// </summary>
public sealed class PatternLayout
{
    /// <summary>Reads the segments.</summary>
    /// <param name="segments">Lengths, summing to d.</param>
    /// <param name="shapes">Per segment its tensor shape (the product must equal the length), or null.</param>
    /// <param name="prunable">Per segment whether it may be pruned (weights), or null for all.</param>
    /// <exception cref="ArgumentException">Counts disagree or a shape does not multiply to its segment's length.</exception>
    public PatternLayout(IReadOnlyList<int> segments, IReadOnlyList<int[]>? shapes = null, IReadOnlyList<bool>? prunable = null)
    {
        ArgumentNullException.ThrowIfNull(segments);
        if (shapes is not null && shapes.Count != segments.Count)
            throw new ArgumentException($"There are {shapes.Count} shapes for {segments.Count} segments.", nameof(shapes));
        if (prunable is not null && prunable.Count != segments.Count)
            throw new ArgumentException($"There are {prunable.Count} prunable flags for {segments.Count} segments.", nameof(prunable));
        var matrices = new List<PatternMatrix>();
        var offset = 0;
        for (var s = 0; s < segments.Count; s++)
        {
            var length = segments[s];
            if (length < 1)
                throw new ArgumentException($"Segment {s} has length {length}.", nameof(segments));
            var shape = shapes?[s] ?? [1, length];
            if (shape.Length == 0 || shape.Aggregate(1L, (a, b) => a * b) != length || shape.Any(d => d < 1))
                throw new ArgumentException($"Segment {s} has {length} coordinates but shape [{string.Join(", ", shape)}].", nameof(shapes));
            if ((prunable?[s] ?? true) && shape.Length >= 2)
            {
                var rows = shape[0];
                var next = offset + length;
                var bias = s + 1 < segments.Count && segments[s + 1] == rows
                    && (shapes is null ? !(prunable?[s + 1] ?? true) : shapes[s + 1].Length == 1) ? next : -1;
                matrices.Add(new PatternMatrix(s, offset, rows, length / rows, bias));
            }

            offset += length;
        }

        Dimension = offset;
        HasShapes = shapes is not null;
        Matrices = matrices;
    }

    /// <summary>d.</summary>
    public int Dimension { get; }

    /// <summary>Whether tensor shapes were given (block and neuron patterns need them).</summary>
    public bool HasShapes { get; }

    /// <summary>The prunable segments as matrices, in order.</summary>
    public IReadOnlyList<PatternMatrix> Matrices { get; }

    /// <summary>Prunable coordinates.</summary>
    public long PrunableCount => Matrices.Sum(m => (long)m.Rows * m.Columns);
}
