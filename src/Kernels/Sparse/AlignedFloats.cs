using System.Runtime.InteropServices;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// A float32 buffer outside the managed heap starting on a 64-byte boundary, so that rows of a multiple of 16 floats are
/// whole cache lines: the sparse products load a row of B per stored value, and a row split across two lines costs two
/// loads (measured: C = WB for a 2:4 300 × 784 W and n = 64 runs about 1.4× faster from an aligned B).
/// </summary>
public sealed unsafe class AlignedFloats : IDisposable
{
    private float* _data;

    /// <summary>Allocates <paramref name="length"/> floats (not cleared) after checking them against <see cref="MemoryBudget"/>.</summary>
    /// <exception cref="InsufficientMemoryException">The buffer would not fit the memory budget.</exception>
    public AlignedFloats(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, int.MaxValue);
        MemoryBudget.Require(MemoryBudget.Product(length, sizeof(float)), $"An inference buffer of {length:N0} floats");
        _data = (float*)NativeMemory.AlignedAlloc((nuint)Math.Max(1, length) * sizeof(float), 64);
        Length = (int)length;
    }

    /// <summary>Floats held.</summary>
    public int Length { get; }

    /// <summary>The floats.</summary>
    public Span<float> Span
    {
        get
        {
            ObjectDisposedException.ThrowIf(_data == null, this);
            return new Span<float>(_data, Length);
        }
    }

    /// <summary>Frees the memory.</summary>
    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the memory of a buffer that was not disposed.</summary>
    ~AlignedFloats() => Free();

    private void Free()
    {
        if (_data != null)
        {
            NativeMemory.AlignedFree(_data);
            _data = null;
        }
    }
}
