using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// An array on the pinned object heap (it never moves, so its address may be kept) viewed from its first 64-byte boundary:
/// weights that SIMD loads read a register at a time then start on a cache line, and a 512-bit load of a whole number of
/// registers from the start never spans two lines (measured: y = Wx of a dense 300 × 784 W runs about 2× faster from an
/// aligned W than from a misaligned one).
/// </summary>
internal sealed unsafe class PinnedAligned<T>
    where T : unmanaged
{
    private readonly T[] _array;
    private readonly int _offset;

    /// <summary>A copy of <paramref name="source"/>.</summary>
    public PinnedAligned(ReadOnlySpan<T> source)
        : this(source.Length) => source.CopyTo(Span);

    /// <summary><paramref name="length"/> zeros.</summary>
    public PinnedAligned(int length)
    {
        var slack = (64 / sizeof(T)) - 1;
        _array = GC.AllocateArray<T>(Math.Max(1, length + slack), pinned: true);
        var address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_array));
        _offset = (int)((64 - (address % 64)) % 64) / sizeof(T);
        Length = length;
    }

    public int Length { get; }

    public Span<T> Span => _array.AsSpan(_offset, Length);

    /// <summary>The first element (valid for the life of this object: the array is pinned).</summary>
    public T* Pointer => (T*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_array)) + _offset;
}
