using ILGPU;

namespace WoodFisher.Kernels.Ilgpu;

/// <summary>
/// The removal set of a joint OBS update on the device. Entries e (the removed coordinates, grouped by block in
/// block order) carry their block and local index; per block b, its entries are [EntryStart[b], EntryStart[b+1])
/// and its |Q_b| × |Q_b| sub-matrix starts at SubStart[b].
/// </summary>
internal readonly struct ObsPlanView
{
    public ObsPlanView(ArrayView<int> entryBlock, ArrayView<int> local, ArrayView<int> entryStart, ArrayView<long> subStart)
    {
        EntryBlock = entryBlock;
        Local = local;
        EntryStart = entryStart;
        SubStart = subStart;
    }

    public ArrayView<int> EntryBlock { get; }

    public ArrayView<int> Local { get; }

    public ArrayView<int> EntryStart { get; }

    public ArrayView<long> SubStart { get; }
}
