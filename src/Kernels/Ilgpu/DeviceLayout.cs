using ILGPU;

namespace WoodFisher.Kernels.Ilgpu;

/// <summary>
/// A <see cref="BlockLayout"/> as device arrays, passed to kernels as one argument: per block its first coordinate,
/// size c_b and element offset of its c_b × c_b row-major square; per coordinate the block holding it.
/// </summary>
internal readonly struct DeviceLayout(ArrayView<int> offsets, ArrayView<int> sizes, ArrayView<long> squareOffsets, ArrayView<int> coordinateBlock)
{
    public ArrayView<int> Offsets { get; } = offsets;

    public ArrayView<int> Sizes { get; } = sizes;

    public ArrayView<long> SquareOffsets { get; } = squareOffsets;

    public ArrayView<int> CoordinateBlock { get; } = coordinateBlock;

    /// <summary>The block b holding coordinate q, its size c_b and first coordinate off_b (q is row q − off_b of F_b).</summary>
    public (int Block, int Size, int Offset) Locate(int q)
    {
        var b = CoordinateBlock[q];
        return (b, Sizes[b], Offsets[b]);
    }
}
