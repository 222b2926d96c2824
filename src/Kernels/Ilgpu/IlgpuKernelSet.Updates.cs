using System.Numerics;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace WoodFisher.Kernels.Ilgpu;

/// <summary>The rank-one and rank-k updates of <see cref="IlgpuKernelSet{T, TOps}"/>.</summary>
internal sealed partial class IlgpuKernelSet<T, TOps>
{
    /// <summary>Gradients per rank-k step (the k of U S⁻¹ Uᵀ) while d ≤ <see cref="RankKElements"/> / k.</summary>
    internal const int RankK = BlockKernels<T, TOps>.MaxRank;

    /// <summary>Bound on d·k, so that the rank-k scratch (a gradient chunk, U and W, each d × k) stays within 3 · 2²⁷ elements for any d.</summary>
    private const long RankKElements = 1L << 27;

    /// <summary>Elements of one uploaded gradient chunk (rows × d), bounding scratch memory.</summary>
    private const long ChunkElements = 1L << 22;

    // One launch per gradient row (RankOneStep: denominator, row update and the next row's product), plus one product
    // per uploaded chunk for its first row.
    public void RankOneUpdates<TSrc>(IlgpuBlockStorage storage, ReadOnlySpan<TSrc> gradients, int rows, double normalizer)
        where TSrc : unmanaged, INumberBase<TSrc>
    {
        var layout = storage.Layout;
        var d = layout.Dimension;
        var chunkRows = (int)Math.Clamp(ChunkElements / d, 1, rows);
        using var g = _accelerator.Allocate1D<T>((long)chunkRows * d);
        using var u = _accelerator.Allocate1D<T>(d);
        using var uNext = _accelerator.Allocate1D<T>(d);
        using var status = _accelerator.Allocate1D<int>(layout.Count);
        status.View.MemSetToZero(_accelerator.DefaultStream);
        var f = storage.BlockView<T>();
        var n = T.CreateChecked(normalizer);
        var (cur, next) = (u.View, uNext.View);
        for (var start = 0; start < rows; start += chunkRows)
        {
            var count = Math.Min(chunkRows, rows - start);
            Upload(gradients.Slice(start * d, count * d), g.View);
            _rankOneProduct(d, f, storage.Device, g.View.SubView(0, d), cur);
            for (var r = 0; r < count; r++)
            {
                var row = g.View.SubView((long)r * d, d);
                var hasNext = r + 1 < count;
                _rankOneStep(d, f, storage.Device, row, cur, n, hasNext ? g.View.SubView((long)(r + 1) * d, d) : row, next, hasNext ? 1 : 0, status.View);
                (cur, next) = (next, cur);
            }
        }

        _accelerator.Synchronize();
        ThrowOnFailure(status, "a rank-one update (N + gᵀF⁻¹g was not positive and finite)");
        RequirePositiveDiagonal(storage, "the rank-one updates");
    }

    // tiled: U = F⁻¹G, the systems S and their factors, and F⁻¹ −= U S⁻¹ Uᵀ as the group kernels that stage in shared
    // memory (GPUs), else one thread per entry or per block (the CPU accelerator, which emulates group barriers).
    public void RankKUpdate<TSrc>(IlgpuBlockStorage storage, ReadOnlySpan<TSrc> gradients, int rows, double normalizer, RankKKernels kernels)
        where TSrc : unmanaged, INumberBase<TSrc>
    {
        var (tiled, clock) = (kernels.Tiled, kernels.Clock);
        clock?.Start();
        var layout = storage.Layout;
        var d = layout.Dimension;
        var nb = layout.Count;
        var stride = (int)Math.Clamp(RankKElements / d, 1, RankK);
        var chunkRows = (int)Math.Clamp(ChunkElements / d / stride * stride, stride, Math.Max(stride, rows));
        using var g = _accelerator.Allocate1D<T>((long)Math.Min(chunkRows, rows) * d);
        var staging = kernels.Staged ? Staging(g.Length) : null;
        using var u = _accelerator.Allocate1D<T>((long)d * stride);
        using var w = _accelerator.Allocate1D<T>((long)d * stride);
        using var system = _accelerator.Allocate1D<T>((long)nb * stride * stride);
        using var status = _accelerator.Allocate1D<int>(nb);
        status.View.MemSetToZero(_accelerator.DefaultStream);
        var f = storage.BlockView<T>();
        var n = T.CreateChecked(normalizer);
        var c = layout.BlockSize;
        var (gx, gy) = FitGroup(BlockKernels<T, TOps>.ProductShared);
        var product = new KernelConfig(new Index3D(nb, (c + (4 * gx) - 1) / (4 * gx), 1), new Index3D(gx, gy, 1), SharedMemoryConfig.RequestDynamic<T>(BlockKernels<T, TOps>.ProductShared(gx, gy)));
        (gx, gy) = FitGroup((x, y) => BlockKernels<T, TOps>.ApplyShared(x, y, stride));
        var height = BlockKernels<T, TOps>.ApplyHeight(gy);
        var apply = new KernelConfig(new Index3D(nb, (c + height - 1) / height, (c + (4 * gx) - 1) / (4 * gx)), new Index3D(gx, gy, 1), SharedMemoryConfig.RequestDynamic<T>(BlockKernels<T, TOps>.ApplyShared(gx, gy, stride)));
        (gx, gy) = FitGroup(BlockKernels<T, TOps>.GramShared);
        var gram = new KernelConfig(new Index3D(nb, 1, 1), new Index3D(gx, gy, 1), SharedMemoryConfig.RequestDynamic<T>(BlockKernels<T, TOps>.GramShared(gx, gy)));
        var factor = new KernelConfig(new Index3D(nb, 1, 1), new Index3D(_tileGroup.X, 1, 1), SharedMemoryConfig.RequestDynamic<T>(BlockKernels<T, TOps>.FactorShared(stride)));
        var fresh = storage.FreshScale;
        storage.FreshScale = null;
        for (var start = 0; start < rows; start += chunkRows)
        {
            var count = Math.Min(chunkRows, rows - start);
            if (staging is null)
            {
                Upload(gradients.Slice(start * d, count * d), g.View);
            }
            else
            {
                staging.Upload(gradients.Slice(start * d, count * d), g.View);
            }

            clock?.Lap(_accelerator, 0);
            for (var s = 0; s < count; s += stride)
            {
                var k = Math.Min(stride, count - s);
                var gk = g.View.SubView((long)s * d, (long)k * d);
                if (start == 0 && s == 0 && fresh is { } sigma)
                {
                    _rankKScaled(new Index2D(d, k), gk, d, T.CreateTruncating(sigma), u.View, stride);
                }
                else if (tiled)
                {
                    _rankKProductTiled(product, f, storage.Device, gk, d, u.View, stride, k);
                }
                else
                {
                    _rankKProduct(new KernelConfig(new Index2D((d + _productGroup.X - 1) / _productGroup.X, 1), _productGroup), f, storage.Device, gk, d, u.View, stride, k);
                }

                clock?.Lap(_accelerator, 1);
                if (tiled)
                {
                    _rankKGramTiled(gram, storage.Device, gk, d, u.View, stride, n, k, system.View);
                    clock?.Lap(_accelerator, 2);
                    _rankKFactorTiled(factor, system.View, k, stride, status.View);
                }
                else
                {
                    _rankKGram(new Index3D(k, k, nb), storage.Device, gk, d, u.View, stride, n, system.View);
                    clock?.Lap(_accelerator, 2);
                    _rankKFactor(nb, system.View, k, stride, status.View);
                }

                clock?.Lap(_accelerator, 3);
                _rankKSolve(d, storage.Device, system.View, k, stride, u.View, w.View);
                clock?.Lap(_accelerator, 4);
                if (tiled)
                {
                    _rankKApply(apply, f, storage.Device, u.View, w.View, k, stride);
                }
                else
                {
                    _rankKApplySimple(new Index2D(d, layout.BlockSize), f, storage.Device, u.View, w.View, k, stride);
                }

                clock?.Lap(_accelerator, 5);
            }
        }

        _accelerator.Synchronize();
        ThrowOnFailure(status, "a rank-k update (Cholesky of S = N·I + GU failed)");
        RequirePositiveDiagonal(storage, "the rank-k update");
        clock?.Lap(_accelerator, 6);
    }

    // The tile group, its rows halved until the kernel's shared memory fits a group (float64 tiles need twice the bytes).
    private (int X, int Y) FitGroup(Func<int, int, int> sharedElements)
    {
        var (x, y) = (_tileGroup.X, _tileGroup.Y);
        while (y > 1 && (long)sharedElements(x, y) * Unsafe.SizeOf<T>() > _accelerator.MaxSharedMemoryPerGroup)
        {
            y /= 2;
        }

        return (x, y);
    }
}
