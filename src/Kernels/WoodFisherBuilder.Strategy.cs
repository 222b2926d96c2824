using ILGPU.Runtime;
using WoodFisher.Kernels.Ilgpu;

namespace WoodFisher.Kernels;

/// <summary>How <see cref="WoodburyStrategy.Auto"/> resolves.</summary>
public sealed partial class WoodFisherBuilder
{
    /// <summary>
    /// Auto resolved: the cost model's choice when m is known (among the strategies that fit the memory budget), else
    /// Dense. On a GPU (<paramref name="onDevice"/>) RankK once the blocks hold <see cref="DeviceRankKEntries"/> entries
    /// or more, where it runs on the device and Dense on the host: on an H200 rank-k took 0.084 s against Dense's 0.230
    /// at c = 512, m = 1,024, d = 65,536 (where the CPU model picks Dense) and 0.195 s against 3.76 at c = 2,000, m = 400,
    /// d = 256,000, while below a million entries (d ≤ 2,048) the launches dominate and the CPU model's choice was the
    /// faster in every cell measured (docs/performance.md).
    /// </summary>
    internal static WoodburyStrategy Resolve(BlockLayout layout, WoodFisherOptions options, long? rows, bool onDevice)
    {
        if (options.Strategy != WoodburyStrategy.Auto)
        {
            return options.Strategy;
        }

        if (rows is not { } m)
        {
            return WoodburyStrategy.Dense;
        }

        long Bytes(WoodburyStrategy s) => MemoryEstimate.Bytes(layout, options.Precision, s, PendingRows(layout), m);
        if (onDevice && layout.SquareLength >= DeviceRankKEntries && MemoryBudget.Fits(Bytes(WoodburyStrategy.RankK)))
        {
            return WoodburyStrategy.RankK;
        }

        return StrategyCostModel.Default.Choose(layout, m, options.Precision, Bytes);
    }

    /// <summary>Entries of all blocks (Σc²) from which Auto builds by rank-k updates on a GPU.</summary>
    internal const long DeviceRankKEntries = 1L << 23;

    // Whether the backend runs its kernels on a CUDA or OpenCL device (not ILGPU's CPU accelerator).
    private static bool OnDevice(WoodFisherOptions options, ICurvatureBackend? backend) => backend is null
        ? Backends.Resolve(options.Backend) == BackendKind.Ilgpu && IlgpuBackendFactory.HasDevice
        : backend is IlgpuBackend { AcceleratorType: not AcceleratorType.CPU };
}
