using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;

namespace WoodFisher.Kernels.Ilgpu;

/// <summary>
/// How <see cref="IIlgpuKernelSet.RankKUpdate{TSrc}"/> runs: the group kernels that stage in shared memory (GPUs) or one
/// thread per entry (the CPU accelerator); chunks through page-locked buffers or straight from the caller's memory; and an
/// optional phase clock.
/// </summary>
internal readonly record struct RankKKernels(bool Tiled, bool Staged, IlgpuPhaseClock? Clock);

/// <summary>The host side of <see cref="IlgpuBackend"/> for one element type, so the backend never branches on it.</summary>
internal interface IIlgpuKernelSet : IDisposable
{
    void SetScaledIdentity(IlgpuBlockStorage storage, double value);

    void Write(IlgpuBlockStorage storage, ReadOnlySpan<double> blocks);

    void Read(IlgpuBlockStorage storage, Span<double> blocks);

    void ReadBlock(IlgpuBlockStorage storage, int block, Span<double> destination);

    void Diagonal(IlgpuBlockStorage storage, Span<double> diagonal);

    void Multiply(IlgpuBlockStorage storage, ReadOnlySpan<double> vectors, Span<double> result, int count);

    void RankOneUpdates<TSrc>(IlgpuBlockStorage storage, ReadOnlySpan<TSrc> gradients, int rows, double normalizer)
        where TSrc : unmanaged, INumberBase<TSrc>;

    void RankKUpdate<TSrc>(IlgpuBlockStorage storage, ReadOnlySpan<TSrc> gradients, int rows, double normalizer, RankKKernels kernels)
        where TSrc : unmanaged, INumberBase<TSrc>;

    void GatherColumns(IlgpuBlockStorage storage, JointObsPlan plan, int first, int last, double[] columns);
}

/// <summary>
/// The kernels of <see cref="BlockKernels{T, TOps}"/> loaded once on one accelerator for one element type, and the
/// host side of each operation: conversion from the float64 interface, chunked uploads, launches, status checks. The
/// updates are in IlgpuKernelSet.Updates.cs, the joint OBS column gather in IlgpuKernelSet.JointObs.cs.
/// </summary>
internal sealed partial class IlgpuKernelSet<T, TOps> : IIlgpuKernelSet
    where T : unmanaged, IFloatingPointIeee754<T>
    where TOps : struct, IScalarOps<T>
{
    private readonly Accelerator _accelerator;
    private readonly Index2D _tileGroup;
    private StagedUpload<T>? _staging;
    private bool _stagingRefused;
    private readonly Action<Index2D, ArrayView<T>, DeviceLayout, T> _setScaledIdentity;
    private readonly Action<Index1D, ArrayView<T>, DeviceLayout, ArrayView<T>, ArrayView<T>> _rankOneProduct;
    private readonly Action<Index1D, ArrayView<T>, DeviceLayout, ArrayView<T>, ArrayView<T>, T, ArrayView<T>, ArrayView<T>, int, ArrayView<int>> _rankOneStep;
    private readonly Action<KernelConfig, ArrayView<T>, DeviceLayout, ArrayView<T>, int, ArrayView<T>, int, int> _rankKProduct;
    private readonly Action<KernelConfig, ArrayView<T>, DeviceLayout, ArrayView<T>, int, ArrayView<T>, int, int> _rankKProductTiled;
    private readonly Index2D _productGroup;
    private readonly Action<Index2D, ArrayView<T>, int, T, ArrayView<T>, int> _rankKScaled;
    private readonly Action<Index3D, DeviceLayout, ArrayView<T>, int, ArrayView<T>, int, T, ArrayView<T>> _rankKGram;
    private readonly Action<Index1D, ArrayView<T>, int, int, ArrayView<int>> _rankKFactor;
    private readonly Action<KernelConfig, DeviceLayout, ArrayView<T>, int, ArrayView<T>, int, T, int, ArrayView<T>> _rankKGramTiled;
    private readonly Action<KernelConfig, ArrayView<T>, int, int, ArrayView<int>> _rankKFactorTiled;
    private readonly Action<Index1D, DeviceLayout, ArrayView<T>, int, int, ArrayView<T>, ArrayView<T>> _rankKSolve;
    private readonly Action<KernelConfig, ArrayView<T>, DeviceLayout, ArrayView<T>, ArrayView<T>, int, int> _rankKApply;
    private readonly Action<Index2D, ArrayView<T>, DeviceLayout, ArrayView<T>, ArrayView<T>, int, int> _rankKApplySimple;
    private readonly Action<Index1D, ArrayView<T>, DeviceLayout, ArrayView<T>> _diagonal;
    private readonly Action<Index2D, ArrayView<T>, DeviceLayout, ArrayView<T>, ArrayView<T>, int> _multiply;
    private readonly Action<Index2D, ArrayView<T>, DeviceLayout, ObsPlanView, int, ArrayView<T>> _obsGather;

    public IlgpuKernelSet(Accelerator accelerator)
    {
        _accelerator = accelerator;
        // 32 × 8 threads on a GPU (a warp per row of the group, so a warp's F accesses are one contiguous segment).
        var tileX = Math.Min(32, accelerator.MaxNumThreadsPerGroup);
        _tileGroup = new Index2D(tileX, Math.Clamp(accelerator.MaxNumThreadsPerGroup / tileX, 1, 8));
        _setScaledIdentity = accelerator.LoadAutoGroupedStreamKernel<Index2D, ArrayView<T>, DeviceLayout, T>(BlockKernels<T, TOps>.SetScaledIdentity);
        _rankOneProduct = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, DeviceLayout, ArrayView<T>, ArrayView<T>>(BlockKernels<T, TOps>.RankOneProduct);
        _rankOneStep = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, DeviceLayout, ArrayView<T>, ArrayView<T>, T, ArrayView<T>, ArrayView<T>, int, ArrayView<int>>(BlockKernels<T, TOps>.RankOneStep);
        _rankKProduct = accelerator.LoadStreamKernel<ArrayView<T>, DeviceLayout, ArrayView<T>, int, ArrayView<T>, int, int>(BlockKernels<T, TOps>.RankKProduct);
        _rankKProductTiled = accelerator.LoadStreamKernel<ArrayView<T>, DeviceLayout, ArrayView<T>, int, ArrayView<T>, int, int>(BlockKernels<T, TOps>.RankKProductTiled);
        _productGroup = new Index2D(tileX, Math.Clamp(accelerator.MaxNumThreadsPerGroup / tileX, 1, RankK));
        _rankKScaled = accelerator.LoadAutoGroupedStreamKernel<Index2D, ArrayView<T>, int, T, ArrayView<T>, int>(BlockKernels<T, TOps>.RankKScaled);
        _rankKGram = accelerator.LoadAutoGroupedStreamKernel<Index3D, DeviceLayout, ArrayView<T>, int, ArrayView<T>, int, T, ArrayView<T>>(BlockKernels<T, TOps>.RankKGram);
        _rankKFactor = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, int, int, ArrayView<int>>(BlockKernels<T, TOps>.RankKFactor);
        _rankKGramTiled = accelerator.LoadStreamKernel<DeviceLayout, ArrayView<T>, int, ArrayView<T>, int, T, int, ArrayView<T>>(BlockKernels<T, TOps>.RankKGramTiled);
        _rankKFactorTiled = accelerator.LoadStreamKernel<ArrayView<T>, int, int, ArrayView<int>>(BlockKernels<T, TOps>.RankKFactorTiled);
        _rankKSolve = accelerator.LoadAutoGroupedStreamKernel<Index1D, DeviceLayout, ArrayView<T>, int, int, ArrayView<T>, ArrayView<T>>(BlockKernels<T, TOps>.RankKSolve);
        _rankKApply = accelerator.LoadStreamKernel<ArrayView<T>, DeviceLayout, ArrayView<T>, ArrayView<T>, int, int>(BlockKernels<T, TOps>.RankKApply);
        _rankKApplySimple = accelerator.LoadAutoGroupedStreamKernel<Index2D, ArrayView<T>, DeviceLayout, ArrayView<T>, ArrayView<T>, int, int>(BlockKernels<T, TOps>.RankKApplySimple);
        _diagonal = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, DeviceLayout, ArrayView<T>>(BlockKernels<T, TOps>.Diagonal);
        _multiply = accelerator.LoadAutoGroupedStreamKernel<Index2D, ArrayView<T>, DeviceLayout, ArrayView<T>, ArrayView<T>, int>(BlockKernels<T, TOps>.Multiply);
        _obsGather = accelerator.LoadAutoGroupedStreamKernel<Index2D, ArrayView<T>, DeviceLayout, ObsPlanView, int, ArrayView<T>>(BlockKernels<T, TOps>.ObsGather);
    }

    public void SetScaledIdentity(IlgpuBlockStorage storage, double value)
    {
        var layout = storage.Layout;
        _setScaledIdentity(new Index2D(layout.Dimension, layout.BlockSize), storage.BlockView<T>(), storage.Device, T.CreateChecked(value));
        _accelerator.Synchronize();
    }

    public void Write(IlgpuBlockStorage storage, ReadOnlySpan<double> blocks) => Upload(blocks, storage.BlockView<T>());

    public void Read(IlgpuBlockStorage storage, Span<double> blocks) => Download(storage.BlockView<T>(), blocks);

    public void ReadBlock(IlgpuBlockStorage storage, int block, Span<double> destination)
    {
        var layout = storage.Layout;
        var c = (long)layout.Size(block);
        Download(storage.BlockView<T>().SubView(layout.SquareOffset(block), c * c), destination);
    }

    public void Diagonal(IlgpuBlockStorage storage, Span<double> diagonal)
    {
        var d = storage.Layout.Dimension;
        using var result = _accelerator.Allocate1D<T>(d);
        _diagonal(d, storage.BlockView<T>(), storage.Device, result.View);
        Download(result.View, diagonal);
    }

    public void Multiply(IlgpuBlockStorage storage, ReadOnlySpan<double> vectors, Span<double> result, int count)
    {
        var d = storage.Layout.Dimension;
        var length = (long)count * d;
        using var x = _accelerator.Allocate1D<T>(length);
        using var y = _accelerator.Allocate1D<T>(length);
        Upload(vectors, x.View);
        _multiply(new Index2D(d, count), storage.BlockView<T>(), storage.Device, x.View, y.View, d);
        Download(y.View, result);
    }

    /// <summary>Frees the page-locked upload buffers (before the accelerator goes).</summary>
    public void Dispose()
    {
        _staging?.Dispose();
        _staging = null;
    }

    // The page-locked upload buffers, kept from one update to the next: page-locking costs about as much as the copy.
    // Where the driver refuses page-locked memory, chunks go from the caller's memory as on the CPU accelerator (null).
    private StagedUpload<T>? Staging(long elements)
    {
        var length = StagedUpload<T>.BufferLength(elements);
        if (_stagingRefused || (_staging is { } kept && kept.Length >= length))
        {
            return _staging;
        }

        _staging?.Dispose();
        _staging = null;
        try
        {
            _staging = new StagedUpload<T>(_accelerator, length);
        }
        catch (Exception e) when (e is AcceleratorException or OutOfMemoryException)
        {
            _stagingRefused = true;
        }

        return _staging;
    }

    private static void ThrowOnFailure(MemoryBuffer1D<int, Stride1D.Dense> status, string during)
    {
        var flags = status.GetAsArray1D();
        var failed = Array.FindIndex(flags, s => s != 0);
        if (failed >= 0)
        {
            throw new BlockNotPositiveDefiniteException(failed, $"lost during {during} on the ILGPU backend");
        }
    }

    /// <summary>The same end-of-update check as the CPU backend: every diagonal entry of F⁻¹ positive and finite.</summary>
    private void RequirePositiveDiagonal(IlgpuBlockStorage storage, string after)
    {
        var layout = storage.Layout;
        var diagonal = ArrayPool<double>.Shared.Rent(layout.Dimension);
        try
        {
            Diagonal(storage, diagonal.AsSpan(0, layout.Dimension));
            for (var q = 0; q < layout.Dimension; q++)
            {
                if (!(diagonal[q] > 0) || !double.IsFinite(diagonal[q]))
                {
                    var (b, i) = layout.Locate(q);
                    throw new BlockNotPositiveDefiniteException(b, $"diagonal entry {i} of F⁻¹ is {diagonal[q]} after {after}");
                }
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(diagonal);
        }
    }

    private void Upload<TSrc>(ReadOnlySpan<TSrc> source, ArrayView<T> destination)
        where TSrc : unmanaged, INumberBase<TSrc>
    {
        if (source.IsEmpty)
        {
            return;
        }

        var target = destination.SubView(0, source.Length);
        if (typeof(TSrc) == typeof(T))
        {
            CopyIn(MemoryMarshal.Cast<TSrc, T>(source), target);
            return;
        }

        var buffer = ArrayPool<T>.Shared.Rent(source.Length);
        try
        {
            var converted = buffer.AsSpan(0, source.Length);
            System.Numerics.Tensors.TensorPrimitives.ConvertTruncating<TSrc, T>(source, converted);
            CopyIn(converted, target);
        }
        finally
        {
            ArrayPool<T>.Shared.Return(buffer);
        }
    }

    private void Download(ArrayView<T> source, Span<double> destination)
    {
        if (destination.IsEmpty)
        {
            return;
        }

        _accelerator.Synchronize();
        var view = source.SubView(0, destination.Length);
        if (typeof(T) == typeof(double))
        {
            CopyOut(view, MemoryMarshal.Cast<double, T>(destination));
            return;
        }

        var buffer = ArrayPool<T>.Shared.Rent(destination.Length);
        try
        {
            var copied = buffer.AsSpan(0, destination.Length);
            CopyOut(view, copied);
            System.Numerics.Tensors.TensorPrimitives.ConvertTruncating<T, double>(copied, destination);
        }
        finally
        {
            ArrayPool<T>.Shared.Return(buffer);
        }
    }

    // Host memory handed to CopyFromCPU/CopyToCPU stays pinned until the copy has completed: the copy may run after the
    // call returns (and on another thread on the CPU accelerator), and an unpinned managed array may move under it.
    private unsafe void CopyIn(ReadOnlySpan<T> source, ArrayView<T> target)
    {
        var stream = _accelerator.DefaultStream;
        fixed (T* p = source)
        {
            target.CopyFromCPU(stream, ref Unsafe.AsRef<T>(p), source.Length);
            stream.Synchronize();
        }
    }

    private unsafe void CopyOut(ArrayView<T> source, Span<T> destination)
    {
        var stream = _accelerator.DefaultStream;
        fixed (T* p = destination)
        {
            source.CopyToCPU(stream, ref Unsafe.AsRef<T>(p), destination.Length);
            stream.Synchronize();
        }
    }
}
