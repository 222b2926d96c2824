using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace WoodFisher.Kernels.Ilgpu;

/// <summary>The rank-one and rank-k updates of <see cref="IlgpuKernelSet{T, TOps}"/>.</summary>
internal sealed partial class IlgpuKernelSet<T, TOps>
{
    /// <summary>Gradients per rank-k step (the k of U S⁻¹ Uᵀ) while d ≤ <see cref="RankKElements"/> / k.</summary>
    internal const int RankK = 32;

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
                    _rankKProduct(new KernelConfig(new Index2D((d + _productGroup.X - 1) / _productGroup.X, 1), _productGroup), f, storage.Device, gk, d, u.View, stride, k);
                }
                _rankKGram(new Index3D(k, k, nb), storage.Device, gk, d, u.View, stride, n, system.View);
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
        RequirePositiveDiagonal(storage, "the rank-k update");
    }
}
