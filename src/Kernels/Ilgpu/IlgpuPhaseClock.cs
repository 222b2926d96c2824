using System.Diagnostics;
using ILGPU.Runtime;

namespace WoodFisher.Kernels.Ilgpu;

/// <summary>
/// Seconds per phase of the ILGPU rank-k update, for tuning on a device (the bench's <c>ilgpu-profile</c>). While a
/// clock is attached each phase ends with a synchronisation, so the phases add up to more than an unclocked run, which
/// overlaps host work with the device.
/// </summary>
internal sealed class IlgpuPhaseClock
{
    /// <summary>The phases, in the order of <see cref="Seconds"/>.</summary>
    public static readonly string[] Names = ["upload", "product", "gram", "factor", "solve", "apply", "check"];

    private readonly Stopwatch _watch = new();

    /// <summary>Seconds spent in each phase of <see cref="Names"/> since the clock was made.</summary>
    public double[] Seconds { get; } = new double[Names.Length];

    /// <summary>Starts timing the next phase.</summary>
    public void Start() => _watch.Restart();

    /// <summary>Waits for the device, then charges the time since the last start or lap to <paramref name="phase"/>.</summary>
    public void Lap(Accelerator accelerator, int phase)
    {
        accelerator.Synchronize();
        Seconds[phase] += _watch.Elapsed.TotalSeconds;
        _watch.Restart();
    }
}
