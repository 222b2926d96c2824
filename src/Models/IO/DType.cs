namespace WoodFisher.IO;

/// <summary>Element types the file formats (npy, npz, safetensors, IDX) read and write. All little-endian in memory.</summary>
public enum DType
{
    /// <summary>IEEE 754 binary32 (<c>&lt;f4</c>, safetensors <c>F32</c>), stored as <see cref="float"/>.</summary>
    Float32,

    /// <summary>IEEE 754 binary64 (<c>&lt;f8</c>, <c>F64</c>), stored as <see cref="double"/>.</summary>
    Float64,

    /// <summary>IEEE 754 binary16 (<c>&lt;f2</c>, <c>F16</c>), stored as <see cref="Half"/>; read only in safetensors.</summary>
    Float16,

    /// <summary>bfloat16 (safetensors <c>BF16</c>), stored as <see cref="ushort"/> bit patterns; read only.</summary>
    BFloat16,

    /// <summary>Signed 32-bit integer (<c>&lt;i4</c>, <c>I32</c>), stored as <see cref="int"/>.</summary>
    Int32,

    /// <summary>Signed 64-bit integer (<c>&lt;i8</c>, <c>I64</c>), stored as <see cref="long"/>.</summary>
    Int64,

    /// <summary>Boolean, one byte each (<c>|b1</c>, <c>BOOL</c>), stored as <see cref="bool"/>.</summary>
    Bool,

    /// <summary>Unsigned byte (<c>|u1</c>, <c>U8</c>), stored as <see cref="byte"/>.</summary>
    UInt8,
}

/// <summary>Facts about <see cref="DType"/> values.</summary>
public static class DTypes
{
    /// <summary>Bytes per element.</summary>
    public static int ItemSize(this DType dtype) => dtype switch
    {
        DType.Float32 or DType.Int32 => 4,
        DType.Float64 or DType.Int64 => 8,
        DType.Float16 or DType.BFloat16 => 2,
        DType.Bool or DType.UInt8 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    /// <summary>The CLR element type an <see cref="NdArray"/> of this dtype stores.</summary>
    public static Type ClrType(this DType dtype) => dtype switch
    {
        DType.Float32 => typeof(float),
        DType.Float64 => typeof(double),
        DType.Float16 => typeof(Half),
        DType.BFloat16 => typeof(ushort),
        DType.Int32 => typeof(int),
        DType.Int64 => typeof(long),
        DType.Bool => typeof(bool),
        DType.UInt8 => typeof(byte),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    /// <summary>The dtype whose CLR element type is <typeparamref name="T"/>.</summary>
    /// <exception cref="NotSupportedException">No dtype stores <typeparamref name="T"/>.</exception>
    public static DType Of<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? DType.Float32
        : typeof(T) == typeof(double) ? DType.Float64
        : typeof(T) == typeof(Half) ? DType.Float16
        : typeof(T) == typeof(ushort) ? DType.BFloat16
        : typeof(T) == typeof(int) ? DType.Int32
        : typeof(T) == typeof(long) ? DType.Int64
        : typeof(T) == typeof(bool) ? DType.Bool
        : typeof(T) == typeof(byte) ? DType.UInt8
        : throw new NotSupportedException($"no dtype stores {typeof(T).Name}");

    /// <summary>Whether the dtype is a floating-point type.</summary>
    public static bool IsFloatingPoint(this DType dtype) =>
        dtype is DType.Float32 or DType.Float64 or DType.Float16 or DType.BFloat16;
}
