using ILGPU;

namespace WoodFisher.Kernels.Ilgpu;

/// <summary>
/// One group of blocks of a <see cref="JointObsPlan"/> on the device, indexed relative to its first block: per relative
/// block r, its removed coordinates' local indices are Local[EntryStart[r] .. EntryStart[r + 1]) and its c × |Q| columns
/// start at ColumnStart[r].
/// </summary>
internal readonly struct ObsPlanView(int firstBlock, ArrayView<int> local, ArrayView<int> entryStart, ArrayView<long> columnStart)
{
    public int FirstBlock { get; } = firstBlock;

    public ArrayView<int> Local { get; } = local;

    public ArrayView<int> EntryStart { get; } = entryStart;

    public ArrayView<long> ColumnStart { get; } = columnStart;
}
