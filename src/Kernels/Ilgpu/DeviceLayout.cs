using ILGPU;

namespace WoodFisher.Kernels.Ilgpu;

/// <summary>
/// A <see cref="BlockLayout"/> as device arrays, passed to kernels as one argument: per block its first coordinate,
/// size c_b and element offset of its c_b × c_b row-major square; per coordinate the block holding it.
/// </summary>
internal readonly struct DeviceLayout
{
    public DeviceLayout(ArrayView<int> offsets, ArrayView<int> sizes, ArrayView<long> squareOffsets, ArrayView<int> coordinateBlock)
    {
        Offsets = offsets;
        Sizes = sizes;
        SquareOffsets = squareOffsets;
        CoordinateBlock = coordinateBlock;
    }

    public ArrayView<int> Offsets { get; }

    public ArrayView<int> Sizes { get; }

    public ArrayView<long> SquareOffsets { get; }

    public ArrayView<int> CoordinateBlock { get; }
}
