using ILGPU;

namespace WoodFisher.Kernels.Ilgpu;

/// <summary>
/// One group of blocks of a <see cref="JointObsPlan"/> on the device, indexed relative to its first block: entries e
/// (the removed coordinates of blocks FirstBlock, FirstBlock + 1, …) carry their relative block and local index; per
/// relative block r, its entries are [EntryStart[r], EntryStart[r + 1]) and its |Q| × |Q| sub-matrix starts at SubStart[r].
/// </summary>
internal readonly struct ObsPlanView
{
    public ObsPlanView(int firstBlock, ArrayView<int> entryBlock, ArrayView<int> local, ArrayView<int> entryStart, ArrayView<long> subStart)
    {
        FirstBlock = firstBlock;
        EntryBlock = entryBlock;
        Local = local;
        EntryStart = entryStart;
        SubStart = subStart;
    }

    public int FirstBlock { get; }

    public ArrayView<int> EntryBlock { get; }

    public ArrayView<int> Local { get; }

    public ArrayView<int> EntryStart { get; }

    public ArrayView<long> SubStart { get; }
}
