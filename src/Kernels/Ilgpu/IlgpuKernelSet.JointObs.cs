using ILGPU;
using ILGPU.Runtime;

namespace WoodFisher.Kernels.Ilgpu;

/// <summary>The column gather of <see cref="JointObsUpdate"/> in <see cref="IlgpuKernelSet{T, TOps}"/>.</summary>
internal sealed partial class IlgpuKernelSet<T, TOps>
{
    public void GatherColumns(IlgpuBlockStorage storage, JointObsPlan plan, int first, int last, double[] columns)
    {
        var layout = storage.Layout;
        var widest = 0;
        for (var b = first; b < last; b++)
        {
            widest = Math.Max(widest, plan.Size(b));
        }

        var from = layout.Offset(first);
        var to = layout.Offset(last - 1) + layout.Size(last - 1);
        var length = plan.ColumnStart(last) - plan.ColumnStart(first);
        using var group = new DevicePlan(_accelerator, plan, first, last);
        using var result = _accelerator.Allocate1D<T>(length);
        _obsGather(new Index2D(to - from, widest), storage.BlockView<T>(), storage.Device, group.View, from, result.View);
        Download(result.View, columns.AsSpan(0, (int)length));
    }

    /// <summary>The device copy of blocks [first, last) of a plan, indexed relative to <c>first</c>.</summary>
    private sealed class DevicePlan : IDisposable
    {
        private readonly MemoryBuffer1D<int, Stride1D.Dense> _local;
        private readonly MemoryBuffer1D<int, Stride1D.Dense> _entryStart;
        private readonly MemoryBuffer1D<long, Stride1D.Dense> _columnStart;

        public DevicePlan(Accelerator accelerator, JointObsPlan plan, int first, int last)
        {
            var e0 = plan.EntryStart(first);
            var c0 = plan.ColumnStart(first);
            var entryStart = new int[last - first + 1];
            var columnStart = new long[last - first + 1];
            for (var b = first; b <= last; b++)
            {
                entryStart[b - first] = plan.EntryStart(b) - e0;
                columnStart[b - first] = plan.ColumnStart(b) - c0;
            }

            _local = accelerator.Allocate1D(plan.LocalIndices.AsSpan(e0, plan.EntryStart(last) - e0).ToArray());
            _entryStart = accelerator.Allocate1D(entryStart);
            _columnStart = accelerator.Allocate1D(columnStart);
            accelerator.Synchronize();
            View = new ObsPlanView(first, _local.View, _entryStart.View, _columnStart.View);
        }

        public ObsPlanView View { get; }

        public void Dispose()
        {
            _local.Dispose();
            _entryStart.Dispose();
            _columnStart.Dispose();
        }
    }
}
