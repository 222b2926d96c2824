using ILGPU;
using ILGPU.Runtime;

namespace WoodFisher.Kernels.Ilgpu;

/// <summary>
/// Inverse blocks in ILGPU device memory: one buffer of float or double holding every block full (c_b × c_b,
/// row-major) at <see cref="BlockLayout.SquareOffset"/>, plus device copies of the layout (block offsets, sizes,
/// square offsets and the block of each coordinate). Created by <see cref="IlgpuBackend.Allocate"/>.
/// </summary>
public sealed class IlgpuBlockStorage : IBlockStorage
{
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _offsets;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _sizes;
    private readonly MemoryBuffer1D<long, Stride1D.Dense> _squareOffsets;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _coordinateBlock;
    private bool _disposed;

    internal IlgpuBlockStorage(IlgpuBackend owner, Accelerator accelerator, BlockLayout layout, Precision precision)
    {
        Owner = owner;
        Layout = layout;
        Precision = precision;
        var count = layout.Count;
        var offsets = new int[count];
        var sizes = new int[count];
        var squares = new long[count];
        var coordinateBlock = new int[layout.Dimension];
        for (var b = 0; b < count; b++)
        {
            offsets[b] = layout.Offset(b);
            sizes[b] = layout.Size(b);
            squares[b] = layout.SquareOffset(b);
            Array.Fill(coordinateBlock, b, offsets[b], sizes[b]);
        }

        if (precision == Precision.Float32)
        {
            var buffer = accelerator.Allocate1D<float>(layout.SquareLength);
            buffer.MemSetToZero();
            Blocks = buffer;
        }
        else
        {
            var buffer = accelerator.Allocate1D<double>(layout.SquareLength);
            buffer.MemSetToZero();
            Blocks = buffer;
        }

        _offsets = accelerator.Allocate1D(offsets);
        _sizes = accelerator.Allocate1D(sizes);
        _squareOffsets = accelerator.Allocate1D(squares);
        _coordinateBlock = accelerator.Allocate1D(coordinateBlock);
        accelerator.Synchronize();
        Device = new DeviceLayout(_offsets.View, _sizes.View, _squareOffsets.View, _coordinateBlock.View);
    }

    /// <inheritdoc />
    public BlockLayout Layout { get; }

    /// <inheritdoc />
    public Precision Precision { get; }

    internal IlgpuBackend Owner { get; }

    internal MemoryBuffer Blocks { get; }

    /// <summary>
    /// σ (already rounded to the storage precision) while every block is exactly σI, as SetScaledIdentity leaves them;
    /// null once anything else has written them. The rank-k update then takes U = σGₖ for its first panel.
    /// </summary>
    internal double? FreshScale { get; set; }

    internal DeviceLayout Device { get; }

    internal bool IsDisposed => _disposed;

    internal ArrayView<T> BlockView<T>()
        where T : unmanaged => ((MemoryBuffer1D<T, Stride1D.Dense>)Blocks).View;

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Blocks.Dispose();
        _offsets.Dispose();
        _sizes.Dispose();
        _squareOffsets.Dispose();
        _coordinateBlock.Dispose();
    }
}
