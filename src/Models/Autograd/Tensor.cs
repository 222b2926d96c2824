using System.Numerics;

namespace WoodFisher.Models.Autograd;

/// <summary>
/// A dense row-major tensor of <typeparamref name="T"/> (float32 for training, float64 for gradient checks).
/// Values only: gradients and tangents live on the <see cref="Tape{T}"/> of a computation, so one tensor can take part in
/// several computations at once.
/// </summary>
/// <typeparam name="T">Element type (float or double).</typeparam>
public class Tensor<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates a tensor of the given shape, over <paramref name="data"/> (not copied) or zeros.</summary>
    /// <param name="shape">Dimensions, outermost first.</param>
    /// <param name="data">Row-major values, length = product of <paramref name="shape"/>; null for zeros.</param>
    /// <param name="requiresGrad">Whether backward passes compute a gradient for this tensor.</param>
    public Tensor(int[] shape, T[]? data = null, bool requiresGrad = false)
    {
        ArgumentNullException.ThrowIfNull(shape);
        long n = 1;
        foreach (var s in shape)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(s, nameof(shape));
            n *= s;
        }
        if (data is not null && data.Length != n)
            throw new ArgumentException($"Data length {data.Length} does not match shape [{string.Join(',', shape)}] ({n}).", nameof(data));
        Shape = (int[])shape.Clone();
        Data = data ?? new T[n];
        RequiresGrad = requiresGrad;
    }

    /// <summary>Dimensions, outermost first.</summary>
    public int[] Shape { get; }

    /// <summary>Row-major values.</summary>
    public T[] Data { get; }

    /// <summary>Number of elements.</summary>
    public int Length => Data.Length;

    /// <summary>Whether backward passes compute a gradient for this tensor (parameters, or inputs under a gradient check).</summary>
    public bool RequiresGrad { get; set; }

    /// <summary>Size of dimension <paramref name="i"/>.</summary>
    public int Dim(int i) => Shape[i];

    /// <summary>Creates a tensor from float32 values, converting to <typeparamref name="T"/>.</summary>
    public static Tensor<T> FromFloats(int[] shape, ReadOnlySpan<float> values, bool requiresGrad = false)
    {
        var data = new T[values.Length];
        for (var i = 0; i < data.Length; i++)
            data[i] = T.CreateTruncating(values[i]);
        return new Tensor<T>(shape, data, requiresGrad);
    }

    /// <summary>Copies the values out as float32.</summary>
    public float[] ToFloats()
    {
        var r = new float[Data.Length];
        for (var i = 0; i < r.Length; i++)
            r[i] = float.CreateTruncating(Data[i]);
        return r;
    }

    /// <inheritdoc/>
    public override string ToString() => $"Tensor<{typeof(T).Name}>[{string.Join(',', Shape)}]";
}
