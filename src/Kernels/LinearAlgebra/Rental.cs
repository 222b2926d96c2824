using System.Buffers;

namespace WoodFisher.Kernels;

/// <summary>
/// A scratch array from <see cref="ArrayPool{T}.Shared"/> for one scope (<c>using var r = new Rental&lt;T&gt;(n);</c>), given
/// back on <see cref="Dispose"/>. At least the requested length; its contents are unspecified.
/// </summary>
internal readonly struct Rental<T>(int length) : IDisposable
{
    public T[] Array { get; } = ArrayPool<T>.Shared.Rent(length);

    public void Dispose() => ArrayPool<T>.Shared.Return(Array);
}
