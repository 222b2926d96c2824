using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace WoodFisher.IO;

/// <summary>
/// A dense n-dimensional array in C (row-major) order: a <see cref="IO.DType"/>, a shape and a typed
/// element buffer (<c>float[]</c> for <see cref="DType.Float32"/>, <c>double[]</c> for <see cref="DType.Float64"/>, …).
/// The common currency of <see cref="Npy"/>, <see cref="Npz"/>, <see cref="SafeTensors"/> and the IDX reader.
/// </summary>
public sealed class NdArray
{
    private readonly Array _data;
    private readonly long[] _shape;

    /// <summary>Wraps <paramref name="data"/> (not copied) as an array of the given shape.</summary>
    /// <param name="data">Elements in C order; the element type picks the dtype (float, double, Half, int, long, bool, byte).</param>
    /// <param name="shape">Dimensions; their product must equal <c>data.Length</c>. Omitted or empty: 1-D of <c>data.Length</c>
    /// (use <see cref="Scalar{T}"/> for a 0-D array).</param>
    /// <exception cref="ArgumentException">The shape does not match the data, or a dimension is negative.</exception>
    public static NdArray Create<T>(T[] data, params long[] shape) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(data);
        return new NdArray(DTypes.Of<T>(), data, shape is null or { Length: 0 } ? [data.Length] : shape);
    }

    /// <summary>Like <see cref="Create{T}"/> but an empty shape means a scalar.</summary>
    internal static NdArray CreateExact<T>(T[] data, long[] shape) where T : unmanaged => new(DTypes.Of<T>(), data, shape);

    /// <summary>A 0-D array (shape <c>()</c>) holding one value.</summary>
    public static NdArray Scalar<T>(T value) where T : unmanaged => new(DTypes.Of<T>(), new[] { value }, []);

    /// <summary>Copies <paramref name="data"/> into a new array of the given shape (1-D of <c>data.Length</c> when omitted).</summary>
    public static NdArray FromSpan<T>(ReadOnlySpan<T> data, params long[] shape) where T : unmanaged => Create(data.ToArray(), shape);

    /// <summary>A zero-filled array of the given dtype and shape.</summary>
    public static NdArray Zeros(DType dtype, params long[] shape)
    {
        long n = ElementCount(shape, nameof(shape));
        if (n > Array.MaxLength)
            throw new ArgumentException($"{n} elements exceed the largest .NET array", nameof(shape));
        return new NdArray(dtype, Array.CreateInstance(dtype.ClrType(), (int)n), shape);
    }

    private NdArray(DType dtype, Array data, long[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        long n = ElementCount(shape, nameof(shape));
        if (n != data.Length)
            throw new ArgumentException($"shape ({string.Join(", ", shape)}) holds {n} elements but the data has {data.Length}", nameof(shape));
        DType = dtype;
        _data = data;
        _shape = (long[])shape.Clone();
    }

    /// <summary>Element type.</summary>
    public DType DType { get; }

    /// <summary>Dimensions in C order (outermost first). Empty for a scalar.</summary>
    public IReadOnlyList<long> Shape => _shape;

    /// <summary>Number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>Number of elements (product of <see cref="Shape"/>; 1 for a scalar).</summary>
    public int Length => _data.Length;

    /// <summary>Size of the element data in bytes.</summary>
    public long ByteLength => (long)_data.Length * DType.ItemSize();

    /// <summary>The shape as <c>int[]</c>.</summary>
    /// <exception cref="OverflowException">A dimension exceeds <see cref="int.MaxValue"/>.</exception>
    public int[] ShapeInt32() => Array.ConvertAll(_shape, d => checked((int)d));

    /// <summary>A copy of the shape as <c>long[]</c>.</summary>
    public long[] ShapeInt64() => (long[])_shape.Clone();

    /// <summary>The stored element buffer itself (no copy): <c>float[]</c>, <c>double[]</c>, … per <see cref="DType"/>.</summary>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> is not the stored element type.</exception>
    public T[] GetData<T>() where T : unmanaged =>
        _data as T[] ?? throw new InvalidOperationException($"array holds {DType} ({DType.ClrType().Name}), not {typeof(T).Name}");

    /// <summary>The elements as a span over the stored buffer (no copy); <typeparamref name="T"/> must be the stored element type.</summary>
    public Span<T> AsSpan<T>() where T : unmanaged => GetData<T>();

    /// <summary>The elements' little-endian bytes (no copy).</summary>
    public ReadOnlySpan<byte> AsBytes() => MemoryMarshal.CreateReadOnlySpan(ref MemoryMarshal.GetArrayDataReference(_data), checked((int)ByteLength));

    internal Span<byte> AsWritableBytes() => MemoryMarshal.CreateSpan(ref MemoryMarshal.GetArrayDataReference(_data), checked((int)ByteLength));

    /// <summary>A new <c>float[]</c> with every element converted to float32 (bool → 0/1, bfloat16 widened).</summary>
    public float[] ToFloat32() => Converted<float>();

    /// <summary>A new <c>double[]</c> with every element converted to float64.</summary>
    public double[] ToFloat64() => Converted<double>();

    private TTo[] Converted<TTo>() where TTo : unmanaged, IFloatingPointIeee754<TTo>
    {
        var result = new TTo[Length];
        switch (_data)
        {
            case float[] f: TensorPrimitives.ConvertTruncating<float, TTo>(f, result); break;
            case double[] d: TensorPrimitives.ConvertTruncating<double, TTo>(d, result); break;
            case Half[] h: TensorPrimitives.ConvertTruncating<Half, TTo>(h, result); break;
            case ushort[] b: for (int i = 0; i < b.Length; i++) result[i] = TTo.CreateTruncating(BFloat16ToSingle(b[i])); break;
            case int[] n: TensorPrimitives.ConvertTruncating<int, TTo>(n, result); break;
            case long[] l: TensorPrimitives.ConvertTruncating<long, TTo>(l, result); break;
            case bool[] z: for (int i = 0; i < z.Length; i++) result[i] = z[i] ? TTo.One : TTo.Zero; break;
            case byte[] u: TensorPrimitives.ConvertTruncating<byte, TTo>(u, result); break;
        }
        return result;
    }

    /// <summary>Element <paramref name="index"/> (flat, C order) converted to double.</summary>
    public double GetDouble(int index) => _data switch
    {
        float[] f => f[index],
        double[] d => d[index],
        Half[] h => (double)h[index],
        ushort[] b => BFloat16ToSingle(b[index]),
        int[] n => n[index],
        long[] l => l[index],
        bool[] z => z[index] ? 1 : 0,
        byte[] u => u[index],
        _ => throw new InvalidOperationException("unknown storage"),
    };

    /// <summary>A new array with the same elements (copied) and a different shape of equal element count.</summary>
    public NdArray Reshape(params long[] shape)
    {
        var copy = Array.CreateInstance(DType.ClrType(), Length);
        Array.Copy(_data, copy, Length);
        return new NdArray(DType, copy, shape);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{DType}[{string.Join(", ", _shape)}]";

    internal static NdArray FromRaw(DType dtype, long[] shape, int length)
    {
        var data = Array.CreateInstance(dtype.ClrType(), length);
        return new NdArray(dtype, data, shape);
    }

    internal void NormalizeBools()
    {
        if (_data is bool[])
        {
            var bytes = AsWritableBytes();
            for (int i = 0; i < bytes.Length; i++)
                if (bytes[i] > 1) bytes[i] = 1;
        }
    }

    internal static float BFloat16ToSingle(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>Product of dims with overflow and sign checks; any zero dimension makes it 0, however large the others.</summary>
    internal static long ElementCount(IReadOnlyList<long> shape, string paramName)
    {
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0)
                throw new ArgumentException($"negative dimension {d}", paramName);
        }
        if (shape.Contains(0))
            return 0;
        foreach (var d in shape)
        {
            try { n = checked(n * d); }
            catch (OverflowException) { throw new ArgumentException("shape overflows a 64-bit element count", paramName); }
        }
        return n;
    }
}

/// <summary>An <see cref="NdArray"/> with the name it has in its file (npz member, safetensors key, …).</summary>
/// <param name="Name">Name in the file (npz member without <c>.npy</c>, safetensors tensor name).</param>
/// <param name="Array">The array.</param>
public sealed record NamedArray(string Name, NdArray Array);
