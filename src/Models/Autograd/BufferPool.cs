using System.Collections.Concurrent;

namespace WoodFisher.Models.Autograd;

/// <summary>
/// Arrays of exact lengths kept for reuse by tapes that recycle their buffers (<see cref="Tape{T}.RecycleBuffers"/>): a
/// training loop allocates the same activation and gradient sizes every step, and reusing them avoids zeroing and
/// page-faulting fresh large-object memory each time. At most <see cref="PerLength"/> arrays of each length are kept.
/// </summary>
internal static class BufferPool<T>
{
    private const int PerLength = 32;
    private static readonly ConcurrentDictionary<int, ConcurrentBag<T[]>> Free = new();

    /// <summary>An array of exactly <paramref name="length"/> elements, with unspecified contents.</summary>
    public static T[] Rent(int length)
        => Free.TryGetValue(length, out var bag) && bag.TryTake(out var a) ? a : GC.AllocateUninitializedArray<T>(length);

    public static void Return(T[] array)
    {
        var bag = Free.GetOrAdd(array.Length, _ => []);
        if (bag.Count < PerLength)
            bag.Add(array);
    }
}
