using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;

namespace WoodFisher.Kernels.Ilgpu;

/// <summary>
/// The kernels of <see cref="BlockKernels{T, TOps}"/> loaded once on one accelerator for one element type, and the
/// host side of each operation: conversion from the float64 interface, chunked uploads, launches, status checks.
/// </summary>
internal sealed class IlgpuKernelSet<T, TOps>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TOps : struct, IScalarOps<T>
{
    /// <summary>Gradients per rank-k step (the k of U S⁻¹ Uᵀ) while d ≤ <see cref="RankKElements"/> / k.</summary>
    internal const int RankK = 32;

    /// <summary>Bound on d·k, so that the rank-k scratch (a gradient chunk, U and W, each d × k) stays within 3 · 2²⁷ elements for any d.</summary>
    private const long RankKElements = 1L << 27;

    /// <summary>Elements of one uploaded gradient chunk (rows × d), bounding scratch memory.</summary>
    private const long ChunkElements = 1L << 22;

    private readonly Accelerator _accelerator;
    private readonly int _tile;
    private readonly Action<Index2D, ArrayView<T>, DeviceLayout, T> _setScaledIdentity;
    private readonly Action<Index1D, ArrayView<T>, DeviceLayout, ArrayView<T>, ArrayView<T>> _rankOneProduct;
    private readonly Action<Index1D, DeviceLayout, ArrayView<T>, ArrayView<T>, T, ArrayView<T>, ArrayView<int>> _rankOneDenominator;
    private readonly Action<Index2D, ArrayView<T>, DeviceLayout, ArrayView<T>, ArrayView<T>> _rankOneApply;
    private readonly Action<Index2D, ArrayView<T>, DeviceLayout, ArrayView<T>, int, ArrayView<T>, int> _rankKProduct;
    private readonly Action<Index2D, ArrayView<T>, int, T, ArrayView<T>, int> _rankKScaled;
    private readonly Action<Index3D, DeviceLayout, ArrayView<T>, int, ArrayView<T>, int, T, ArrayView<T>> _rankKGram;
    private readonly Action<Index1D, ArrayView<T>, int, int, ArrayView<int>> _rankKFactor;
    private readonly Action<Index1D, DeviceLayout, ArrayView<T>, int, int, ArrayView<T>, ArrayView<T>> _rankKSolve;
    private readonly Action<KernelConfig, ArrayView<T>, DeviceLayout, ArrayView<T>, ArrayView<T>, int, int> _rankKApply;
    private readonly Action<Index2D, ArrayView<T>, DeviceLayout, ArrayView<T>, ArrayView<T>, int, int> _rankKApplySimple;
    private readonly Action<Index1D, ArrayView<T>, DeviceLayout, ArrayView<T>> _diagonal;
    private readonly Action<Index2D, ArrayView<T>, DeviceLayout, ArrayView<T>, ArrayView<T>, int> _multiply;
    private readonly Action<Index2D, ArrayView<T>, DeviceLayout, ObsPlanView, ArrayView<T>> _obsGather;
    private readonly Action<Index1D, ObsPlanView, ArrayView<T>, ArrayView<T>, ArrayView<int>> _obsSolve;
    private readonly Action<Index1D, ArrayView<T>, DeviceLayout, ObsPlanView, ArrayView<T>, ArrayView<T>> _obsApply;

    public IlgpuKernelSet(Accelerator accelerator)
    {
        _accelerator = accelerator;
        _tile = 1;
        while (_tile < 16 && (_tile * 2) * (_tile * 2) <= accelerator.MaxNumThreadsPerGroup)
        {
            _tile *= 2;
        }

        _setScaledIdentity = accelerator.LoadAutoGroupedStreamKernel<Index2D, ArrayView<T>, DeviceLayout, T>(BlockKernels<T, TOps>.SetScaledIdentity);
        _rankOneProduct = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, DeviceLayout, ArrayView<T>, ArrayView<T>>(BlockKernels<T, TOps>.RankOneProduct);
        _rankOneDenominator = accelerator.LoadAutoGroupedStreamKernel<Index1D, DeviceLayout, ArrayView<T>, ArrayView<T>, T, ArrayView<T>, ArrayView<int>>(BlockKernels<T, TOps>.RankOneDenominator);
        _rankOneApply = accelerator.LoadAutoGroupedStreamKernel<Index2D, ArrayView<T>, DeviceLayout, ArrayView<T>, ArrayView<T>>(BlockKernels<T, TOps>.RankOneApply);
        _rankKProduct = accelerator.LoadAutoGroupedStreamKernel<Index2D, ArrayView<T>, DeviceLayout, ArrayView<T>, int, ArrayView<T>, int>(BlockKernels<T, TOps>.RankKProduct);
        _rankKScaled = accelerator.LoadAutoGroupedStreamKernel<Index2D, ArrayView<T>, int, T, ArrayView<T>, int>(BlockKernels<T, TOps>.RankKScaled);
        _rankKGram = accelerator.LoadAutoGroupedStreamKernel<Index3D, DeviceLayout, ArrayView<T>, int, ArrayView<T>, int, T, ArrayView<T>>(BlockKernels<T, TOps>.RankKGram);
        _rankKFactor = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, int, int, ArrayView<int>>(BlockKernels<T, TOps>.RankKFactor);
        _rankKSolve = accelerator.LoadAutoGroupedStreamKernel<Index1D, DeviceLayout, ArrayView<T>, int, int, ArrayView<T>, ArrayView<T>>(BlockKernels<T, TOps>.RankKSolve);
        _rankKApply = accelerator.LoadStreamKernel<ArrayView<T>, DeviceLayout, ArrayView<T>, ArrayView<T>, int, int>(BlockKernels<T, TOps>.RankKApply);
        _rankKApplySimple = accelerator.LoadAutoGroupedStreamKernel<Index2D, ArrayView<T>, DeviceLayout, ArrayView<T>, ArrayView<T>, int, int>(BlockKernels<T, TOps>.RankKApplySimple);
        _diagonal = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, DeviceLayout, ArrayView<T>>(BlockKernels<T, TOps>.Diagonal);
        _multiply = accelerator.LoadAutoGroupedStreamKernel<Index2D, ArrayView<T>, DeviceLayout, ArrayView<T>, ArrayView<T>, int>(BlockKernels<T, TOps>.Multiply);
        _obsGather = accelerator.LoadAutoGroupedStreamKernel<Index2D, ArrayView<T>, DeviceLayout, ObsPlanView, ArrayView<T>>(BlockKernels<T, TOps>.ObsGather);
        _obsSolve = accelerator.LoadAutoGroupedStreamKernel<Index1D, ObsPlanView, ArrayView<T>, ArrayView<T>, ArrayView<int>>(BlockKernels<T, TOps>.ObsSolve);
        _obsApply = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, DeviceLayout, ObsPlanView, ArrayView<T>, ArrayView<T>>(BlockKernels<T, TOps>.ObsApply);
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

    public void RankOneUpdates<TSrc>(IlgpuBlockStorage storage, ReadOnlySpan<TSrc> gradients, int rows, double normalizer)
        where TSrc : unmanaged, INumberBase<TSrc>
    {
        var layout = storage.Layout;
        var d = layout.Dimension;
        var chunkRows = (int)Math.Clamp(ChunkElements / d, 1, rows);
        using var g = _accelerator.Allocate1D<T>((long)chunkRows * d);
        using var u = _accelerator.Allocate1D<T>(d);
        using var denominator = _accelerator.Allocate1D<T>(layout.Count);
        using var status = _accelerator.Allocate1D<int>(layout.Count);
        status.View.MemSetToZero(_accelerator.DefaultStream);
        var f = storage.BlockView<T>();
        var n = T.CreateChecked(normalizer);
        for (var start = 0; start < rows; start += chunkRows)
        {
            var count = Math.Min(chunkRows, rows - start);
            Upload(gradients.Slice(start * d, count * d), g.View);
            for (var r = 0; r < count; r++)
            {
                var row = g.View.SubView((long)r * d, d);
                _rankOneProduct(d, f, storage.Device, row, u.View);
                _rankOneDenominator(layout.Count, storage.Device, row, u.View, n, denominator.View, status.View);
                _rankOneApply(new Index2D(d, layout.BlockSize), f, storage.Device, u.View, denominator.View);
            }
        }

        _accelerator.Synchronize();
        ThrowOnFailure(status, "a rank-one update (N + gᵀF⁻¹g was not positive and finite)");
    }

    // tiled: F⁻¹ −= U S⁻¹ Uᵀ as the shared-memory tiled kernel (GPUs) or one thread per element (CPU accelerator).
    public void RankKUpdate<TSrc>(IlgpuBlockStorage storage, ReadOnlySpan<TSrc> gradients, int rows, double normalizer, bool tiled)
        where TSrc : unmanaged, INumberBase<TSrc>
    {
        var layout = storage.Layout;
        var d = layout.Dimension;
        var nb = layout.Count;
        var stride = (int)Math.Clamp(RankKElements / d, 1, RankK);
        var chunkRows = (int)Math.Clamp(ChunkElements / d / stride * stride, stride, Math.Max(stride, rows));
        using var g = _accelerator.Allocate1D<T>((long)Math.Min(chunkRows, rows) * d);
        using var u = _accelerator.Allocate1D<T>((long)d * stride);
        using var w = _accelerator.Allocate1D<T>((long)d * stride);
        using var system = _accelerator.Allocate1D<T>((long)nb * stride * stride);
        using var status = _accelerator.Allocate1D<int>(nb);
        status.View.MemSetToZero(_accelerator.DefaultStream);
        var f = storage.BlockView<T>();
        var n = T.CreateChecked(normalizer);
        var tiles = (layout.BlockSize + _tile - 1) / _tile;
        var config = new KernelConfig(new Index3D(nb, tiles, tiles), new Index3D(_tile, _tile, 1), SharedMemoryConfig.RequestDynamic<T>(2 * _tile * _tile));
        var fresh = storage.FreshScale;
        storage.FreshScale = null;
        for (var start = 0; start < rows; start += chunkRows)
        {
            var count = Math.Min(chunkRows, rows - start);
            Upload(gradients.Slice(start * d, count * d), g.View);
            for (var s = 0; s < count; s += stride)
            {
                var k = Math.Min(stride, count - s);
                var gk = g.View.SubView((long)s * d, (long)k * d);
                if (start == 0 && s == 0 && fresh is { } sigma)
                {
                    _rankKScaled(new Index2D(d, k), gk, d, T.CreateTruncating(sigma), u.View, stride);
                }
                else
                {
                    _rankKProduct(new Index2D(d, k), f, storage.Device, gk, d, u.View, stride);
                }
                _rankKGram(new Index3D(nb, k, k), storage.Device, gk, d, u.View, stride, n, system.View);
                _rankKFactor(nb, system.View, k, stride, status.View);
                _rankKSolve(d, storage.Device, system.View, k, stride, u.View, w.View);
                if (tiled)
                {
                    _rankKApply(config, f, storage.Device, u.View, w.View, k, stride);
                }
                else
                {
                    _rankKApplySimple(new Index2D(d, layout.BlockSize), f, storage.Device, u.View, w.View, k, stride);
                }
            }
        }

        _accelerator.Synchronize();
        ThrowOnFailure(status, "a rank-k update (Cholesky of S = N·I + GU failed)");
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
        _multiply(new Index2D(count, d), storage.BlockView<T>(), storage.Device, x.View, y.View, d);
        Download(y.View, result);
    }

    public void ObsUpdate(IlgpuBlockStorage storage, Span<double> weights, ReadOnlySpan<bool> mask)
    {
        var layout = storage.Layout;
        var nb = layout.Count;
        var entryStart = new int[nb + 1];
        var subStart = new long[nb];
        var entries = 0;
        var widest = 0;
        long subLength = 0;
        for (var b = 0; b < nb; b++)
        {
            entryStart[b] = entries;
            subStart[b] = subLength;
            var n = 0;
            var off = layout.Offset(b);
            for (var i = 0; i < layout.Size(b); i++)
            {
                n += mask[off + i] ? 0 : 1;
            }

            entries += n;
            widest = Math.Max(widest, n);
            subLength += (long)n * n;
        }

        entryStart[nb] = entries;
        if (entries == 0)
        {
            return;
        }

        var entryBlock = new int[entries];
        var local = new int[entries];
        var wq = new double[entries];
        for (int b = 0, e = 0; b < nb; b++)
        {
            var off = layout.Offset(b);
            for (var i = 0; i < layout.Size(b); i++)
            {
                if (!mask[off + i])
                {
                    entryBlock[e] = b;
                    local[e] = i;
                    wq[e++] = weights[off + i];
                }
            }
        }

        var d = layout.Dimension;
        using var entryBlockBuffer = _accelerator.Allocate1D(entryBlock);
        using var localBuffer = _accelerator.Allocate1D(local);
        using var entryStartBuffer = _accelerator.Allocate1D(entryStart);
        using var subStartBuffer = _accelerator.Allocate1D(subStart);
        using var sub = _accelerator.Allocate1D<T>(subLength);
        using var alpha = _accelerator.Allocate1D<T>(entries);
        using var delta = _accelerator.Allocate1D<T>(d);
        using var status = _accelerator.Allocate1D<int>(nb);
        status.View.MemSetToZero(_accelerator.DefaultStream);
        Upload(wq, alpha.View);
        var plan = new ObsPlanView(entryBlockBuffer.View, localBuffer.View, entryStartBuffer.View, subStartBuffer.View);
        var f = storage.BlockView<T>();
        _obsGather(new Index2D(entries, widest), f, storage.Device, plan, sub.View);
        _obsSolve(nb, plan, sub.View, alpha.View, status.View);
        _accelerator.Synchronize();
        ThrowOnFailure(status, "a joint OBS update (Cholesky of [F⁻¹]_QQ failed)");
        _obsApply(d, f, storage.Device, plan, alpha.View, delta.View);
        var step = ArrayPool<double>.Shared.Rent(d);
        try
        {
            Download(delta.View, step.AsSpan(0, d));
            for (var q = 0; q < d; q++)
            {
                weights[q] = mask[q] ? weights[q] - step[q] : 0d;
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(step);
        }
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

    // Host memory handed to CopyFromCPU/CopyToCPU is pinned until the copy has completed: the copy may run after the call
    // returns (and on another thread on the CPU accelerator), and an unpinned managed array may move under it — the source
    // of rare all-zero downloads seen in tests before this was done.
    private unsafe void Upload<TSrc>(ReadOnlySpan<TSrc> source, ArrayView<T> destination)
        where TSrc : unmanaged, INumberBase<TSrc>
    {
        if (source.IsEmpty)
        {
            return;
        }

        var target = destination.SubView(0, source.Length);
        var stream = _accelerator.DefaultStream;
        if (typeof(TSrc) == typeof(T))
        {
            fixed (TSrc* p = source)
            {
                target.CopyFromCPU(stream, ref Unsafe.AsRef<T>(p), source.Length);
                stream.Synchronize();
            }

            return;
        }

        var buffer = ArrayPool<T>.Shared.Rent(source.Length);
        try
        {
            System.Numerics.Tensors.TensorPrimitives.ConvertTruncating<TSrc, T>(source, buffer.AsSpan(0, source.Length));
            fixed (T* p = buffer)
            {
                target.CopyFromCPU(stream, ref Unsafe.AsRef<T>(p), source.Length);
                stream.Synchronize();
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(buffer);
        }
    }

    private unsafe void Download(ArrayView<T> source, Span<double> destination)
    {
        if (destination.IsEmpty)
        {
            return;
        }

        _accelerator.Synchronize();
        var stream = _accelerator.DefaultStream;
        var view = source.SubView(0, destination.Length);
        if (typeof(T) == typeof(double))
        {
            fixed (double* p = destination)
            {
                view.CopyToCPU(stream, ref Unsafe.AsRef<T>(p), destination.Length);
                stream.Synchronize();
            }

            return;
        }

        var buffer = ArrayPool<T>.Shared.Rent(destination.Length);
        try
        {
            fixed (T* p = buffer)
            {
                view.CopyToCPU(stream, ref Unsafe.AsRef<T>(p), destination.Length);
                stream.Synchronize();
            }

            for (var i = 0; i < destination.Length; i++)
            {
                destination[i] = double.CreateTruncating(buffer[i]);
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(buffer);
        }
    }
}
