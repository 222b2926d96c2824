using ILGPU;

namespace WoodFisher.Kernels.Ilgpu;

/// <summary>
/// One group of blocks of a <see cref="JointObsPlan"/> on the device, indexed relative to its first block: per relative
/// block r, its removed coordinates' local indices are Local[EntryStart[r] .. EntryStart[r + 1]) and its c × |Q| columns
/// start at ColumnStart[r].
/// </summary>
internal readonly struct ObsPlanView
{
    public ObsPlanView(int firstBlock, ArrayView<int> local, ArrayView<int> entryStart, ArrayView<long> columnStart)
    {
        FirstBlock = firstBlock;
        Local = local;
        EntryStart = entryStart;
        ColumnStart = columnStart;
    }

    public int FirstBlock { get; }

    public ArrayView<int> Local { get; }

    public ArrayView<int> EntryStart { get; }

    public ArrayView<long> ColumnStart { get; }
}
