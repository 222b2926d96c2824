using System.Numerics.Tensors;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// A dense row-major weight matrix: the baseline every sparse format is measured against. y = Wx is one SIMD dot product
/// per row (memory-bound: W is streamed once); C = WB is the dense core's packed GEMM.
/// </summary>
public sealed class DenseWeights : IWeightMatrix
{
    private readonly float[] _values;

    /// <summary>Wraps <paramref name="values"/> (rows·columns, row-major; kept, not copied).</summary>
    public DenseWeights(int rows, int columns, float[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        WeightChecks.Dense(values.Length, rows, columns);
        Rows = rows;
        Columns = columns;
        _values = values;
    }

    /// <inheritdoc/>
    public int Rows { get; }

    /// <inheritdoc/>
    public int Columns { get; }

    /// <summary>The values, row-major.</summary>
    public ReadOnlySpan<float> Values => _values;

    /// <inheritdoc/>
    public WeightFormat Format => WeightFormat.Dense;

    /// <inheritdoc/>
    public long StoredValues => _values.Length;

    /// <inheritdoc/>
    public long StoredBytes => 4L * _values.Length;

    /// <inheritdoc/>
    public void MultiplyVector(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> bias = default)
    {
        WeightChecks.Vector(this, x.Length, y.Length, bias.Length);
        var w = _values.AsSpan();
        for (var r = 0; r < Rows; r++)
        {
            var s = TensorPrimitives.Dot(w.Slice(r * Columns, Columns), x);
            y[r] = bias.IsEmpty ? s : s + bias[r];
        }
    }

    /// <inheritdoc/>
    public void Multiply(ReadOnlySpan<float> b, int n, Span<float> c, ReadOnlySpan<float> bias = default)
    {
        WeightChecks.Product(this, b.Length, n, c.Length, bias.Length);
        for (var r = 0; r < Rows; r++)
        {
            c.Slice(r * n, n).Fill(bias.IsEmpty ? 0f : bias[r]);
        }

        LinearAlgebra.Multiply(false, false, Rows, n, Columns, _values, b[..(Columns * n)], c[..(Rows * n)], accumulate: true,
            parallel: SparseParallel.Parts((long)Rows * Columns * n) > 1);
    }

    /// <inheritdoc/>
    public float[] ToDense() => (float[])_values.Clone();
}
