using ILGPU;
using ILGPU.Runtime;

namespace WoodFisher.Kernels.Ilgpu;

/// <summary>The gather and scatter halves of <see cref="JointObsUpdate"/> in <see cref="IlgpuKernelSet{T, TOps}"/>.</summary>
internal sealed partial class IlgpuKernelSet<T, TOps>
{
    public void Gather(IlgpuBlockStorage storage, JointObsPlan plan, int first, int last, double[] sub)
    {
        var e0 = plan.EntryStart(first);
        var entries = plan.EntryStart(last) - e0;
        var widest = 0;
        for (var b = first; b < last; b++)
        {
            widest = Math.Max(widest, plan.Size(b));
        }

        var length = plan.SubStart(last) - plan.SubStart(first);
        using var group = new DevicePlan(_accelerator, plan, first, last);
        using var result = _accelerator.Allocate1D<T>(length);
        _obsGather(new Index2D(entries, widest), storage.BlockView<T>(), storage.Device, group.View, result.View);
        Download(result.View, sub.AsSpan(0, (int)length));
    }

    public void Scatter(IlgpuBlockStorage storage, JointObsPlan plan, int first, int last, double[] alpha, double[] delta)
    {
        var layout = storage.Layout;
        var entries = plan.EntryStart(last) - plan.EntryStart(first);
        var from = layout.Offset(first);
        var to = layout.Offset(last - 1) + layout.Size(last - 1);
        using var group = new DevicePlan(_accelerator, plan, first, last);
        using var a = _accelerator.Allocate1D<T>(entries);
        using var result = _accelerator.Allocate1D<T>(to - from);
        Upload<double>(alpha.AsSpan(0, entries), a.View);
        _obsScatter(to - from, storage.BlockView<T>(), storage.Device, group.View, from, a.View, result.View);
        Download(result.View, delta.AsSpan(from, to - from));
    }

    /// <summary>The device copy of blocks [first, last) of a plan, indexed relative to <c>first</c>.</summary>
    private sealed class DevicePlan : IDisposable
    {
        private readonly MemoryBuffer1D<int, Stride1D.Dense> _entryBlock;
        private readonly MemoryBuffer1D<int, Stride1D.Dense> _local;
        private readonly MemoryBuffer1D<int, Stride1D.Dense> _entryStart;
        private readonly MemoryBuffer1D<long, Stride1D.Dense> _subStart;

        public DevicePlan(Accelerator accelerator, JointObsPlan plan, int first, int last)
        {
            var e0 = plan.EntryStart(first);
            var s0 = plan.SubStart(first);
            var entries = plan.EntryStart(last) - e0;
            var entryBlock = new int[entries];
            var entryStart = new int[last - first + 1];
            var subStart = new long[last - first + 1];
            for (var b = first; b <= last; b++)
            {
                entryStart[b - first] = plan.EntryStart(b) - e0;
                subStart[b - first] = plan.SubStart(b) - s0;
            }

            for (var e = 0; e < entries; e++)
            {
                entryBlock[e] = plan.EntryBlocks[e0 + e] - first;
            }

            _entryBlock = accelerator.Allocate1D(entryBlock);
            _local = accelerator.Allocate1D(plan.LocalIndices.AsSpan(e0, entries).ToArray());
            _entryStart = accelerator.Allocate1D(entryStart);
            _subStart = accelerator.Allocate1D(subStart);
            accelerator.Synchronize();
            View = new ObsPlanView(first, _entryBlock.View, _local.View, _entryStart.View, _subStart.View);
        }

        public ObsPlanView View { get; }

        public void Dispose()
        {
            _entryBlock.Dispose();
            _local.Dispose();
            _entryStart.Dispose();
            _subStart.Dispose();
        }
    }
}
