using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;

namespace WoodFisher.Kernels.Ilgpu;

/// <summary>
/// <see cref="ICurvatureBackend"/> on ILGPU: every operation runs as hand-written kernels on one accelerator
/// (CUDA, OpenCL, or ILGPU's CPU accelerator, which emulates GPU threads and is what CI exercises). Blocks are
/// stored in float32 or float64 on the device; the float64 vectors of the interface are converted on upload and
/// download. Kernels for a precision are compiled on its first use and cached. Calls on one instance must not
/// overlap (they share the accelerator's default stream). When an update throws because a block lost positive
/// definiteness, the blocks' contents are unspecified afterwards.
/// </summary>
public sealed class IlgpuBackend : ICurvatureBackend
{
    private readonly Context? _ownedContext;
    private readonly bool _ownsAccelerator;
    private readonly Lazy<IlgpuKernelSet<float, FloatOps>> _float32;
    private readonly Lazy<IlgpuKernelSet<double, DoubleOps>> _float64;
    private bool _disposed;

    /// <summary>
    /// Creates a backend on its own ILGPU context: the first CUDA device, else the first OpenCL device, else the
    /// CPU accelerator when <paramref name="preferDevice"/> is true; always the CPU accelerator when it is false.
    /// </summary>
    /// <param name="preferDevice">Whether to use a CUDA/OpenCL device when one exists.</param>
    public IlgpuBackend(bool preferDevice = true)
    {
        _ownedContext = preferDevice
            ? Context.Create(b => b.Default().EnableAlgorithms())
            : Context.Create(b => b.CPU().EnableAlgorithms());
        try
        {
            Accelerator = SelectDevice(_ownedContext, preferDevice).CreateAccelerator(_ownedContext);
        }
        catch
        {
            _ownedContext.Dispose();
            throw;
        }

        _ownsAccelerator = true;
        TiledRankK = Accelerator.AcceleratorType != AcceleratorType.CPU;
        (_float32, _float64) = CreateKernelSets();
    }

    /// <summary>
    /// Creates a backend on an accelerator the caller owns (and disposes after this backend). Its context must have
    /// been created with <c>EnableAlgorithms()</c> (ILGPU.Algorithms), which the kernels' square roots need.
    /// </summary>
    /// <param name="accelerator">The accelerator that runs the kernels and holds the blocks.</param>
    public IlgpuBackend(Accelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        Accelerator = accelerator;
        TiledRankK = Accelerator.AcceleratorType != AcceleratorType.CPU;
        (_float32, _float64) = CreateKernelSets();
    }

    /// <summary>The accelerator running the kernels.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>The kind of accelerator: <see cref="AcceleratorType.Cuda"/>, <see cref="AcceleratorType.OpenCL"/> or <see cref="AcceleratorType.CPU"/>.</summary>
    public AcceleratorType AcceleratorType => Accelerator.AcceleratorType;

    /// <summary>"ilgpu-cuda", "ilgpu-opencl" or "ilgpu-cpu".</summary>
    public string Name => Accelerator.AcceleratorType switch
    {
        AcceleratorType.Cuda => "ilgpu-cuda",
        AcceleratorType.OpenCL => "ilgpu-opencl",
        _ => "ilgpu-cpu",
    };

    /// <summary>Gradients folded into each rank-k step of <see cref="RankKUpdate(IBlockStorage, ReadOnlySpan{double}, int, double)"/> (fewer when d &gt; 2²²).</summary>
    public static int RankKChunk => IlgpuKernelSet<float, FloatOps>.RankK;

    /// <summary>
    /// Whether <see cref="RankKUpdate(IBlockStorage, ReadOnlySpan{double}, int, double)"/> applies F⁻¹ −= U S⁻¹ Uᵀ with the shared-memory tiled kernel. On by default
    /// on CUDA/OpenCL; off on the CPU accelerator, whose emulated group barriers make tiling far slower (tests turn it on).
    /// </summary>
    internal bool TiledRankK { get; set; }

    /// <inheritdoc />
    public IBlockStorage Allocate(BlockLayout layout, Precision precision)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (precision is not (Precision.Float32 or Precision.Float64))
        {
            throw new ArgumentOutOfRangeException(nameof(precision), precision, "Precision must be Float32 or Float64.");
        }

        return new IlgpuBlockStorage(this, Accelerator, layout, precision);
    }

    /// <inheritdoc />
    public void SetScaledIdentity(IBlockStorage storage, double value)
    {
        var s = Own(storage);
        if (!double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "The identity scale must be finite.");
        }

        if (s.Precision == Precision.Float32)
        {
            _float32.Value.SetScaledIdentity(s, value);
            s.FreshScale = (float)value;
        }
        else
        {
            _float64.Value.SetScaledIdentity(s, value);
            s.FreshScale = value;
        }
    }

    /// <inheritdoc />
    public void Write(IBlockStorage storage, ReadOnlySpan<double> blocks)
    {
        var s = Own(storage);
        RequireLength(blocks.Length, s.Layout.SquareLength, nameof(blocks));
        s.FreshScale = null;
        if (s.Precision == Precision.Float32)
        {
            _float32.Value.Write(s, blocks);
        }
        else
        {
            _float64.Value.Write(s, blocks);
        }
    }

    /// <inheritdoc />
    public void Read(IBlockStorage storage, Span<double> blocks)
    {
        var s = Own(storage);
        RequireLength(blocks.Length, s.Layout.SquareLength, nameof(blocks));
        if (s.Precision == Precision.Float32)
        {
            _float32.Value.Read(s, blocks);
        }
        else
        {
            _float64.Value.Read(s, blocks);
        }
    }

    /// <inheritdoc />
    public void ReadBlock(IBlockStorage storage, int block, Span<double> destination)
    {
        var s = Own(storage);
        ArgumentOutOfRangeException.ThrowIfNegative(block);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(block, s.Layout.Count);
        var c = (long)s.Layout.Size(block);
        RequireLength(destination.Length, c * c, nameof(destination));
        if (s.Precision == Precision.Float32)
        {
            _float32.Value.ReadBlock(s, block, destination);
        }
        else
        {
            _float64.Value.ReadBlock(s, block, destination);
        }
    }

    /// <inheritdoc />
    public void RankOneUpdates(IBlockStorage storage, ReadOnlySpan<double> gradients, int rows, double normalizer)
        => Update(storage, gradients, rows, normalizer, rankK: false);

    /// <inheritdoc />
    public void RankOneUpdates(IBlockStorage storage, ReadOnlySpan<float> gradients, int rows, double normalizer)
        => Update(storage, gradients, rows, normalizer, rankK: false);

    /// <inheritdoc />
    public void RankKUpdate(IBlockStorage storage, ReadOnlySpan<double> gradients, int rows, double normalizer)
        => Update(storage, gradients, rows, normalizer, rankK: true);

    /// <inheritdoc />
    public void RankKUpdate(IBlockStorage storage, ReadOnlySpan<float> gradients, int rows, double normalizer)
        => Update(storage, gradients, rows, normalizer, rankK: true);

    /// <inheritdoc />
    public void Diagonal(IBlockStorage storage, Span<double> diagonal)
    {
        var s = Own(storage);
        RequireLength(diagonal.Length, s.Layout.Dimension, nameof(diagonal));
        if (s.Precision == Precision.Float32)
        {
            _float32.Value.Diagonal(s, diagonal);
        }
        else
        {
            _float64.Value.Diagonal(s, diagonal);
        }
    }

    /// <inheritdoc />
    public void Multiply(IBlockStorage storage, ReadOnlySpan<double> vectors, Span<double> result, int count)
    {
        var s = Own(storage);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var length = (long)count * s.Layout.Dimension;
        RequireLength(vectors.Length, length, nameof(vectors));
        RequireLength(result.Length, length, nameof(result));
        if (count == 0)
        {
            return;
        }

        if (s.Precision == Precision.Float32)
        {
            _float32.Value.Multiply(s, vectors, result, count);
        }
        else
        {
            _float64.Value.Multiply(s, vectors, result, count);
        }
    }

    /// <inheritdoc />
    public void ObsUpdate(IBlockStorage storage, Span<double> weights, ReadOnlySpan<bool> mask)
    {
        var s = Own(storage);
        RequireLength(weights.Length, s.Layout.Dimension, nameof(weights));
        RequireLength(mask.Length, s.Layout.Dimension, nameof(mask));
        if (s.Precision == Precision.Float32)
        {
            _float32.Value.ObsUpdate(s, weights, mask);
        }
        else
        {
            _float64.Value.ObsUpdate(s, weights, mask);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_ownsAccelerator)
        {
            Accelerator.Dispose();
        }

        _ownedContext?.Dispose();
    }

    internal static Device SelectDevice(Context context, bool preferDevice)
    {
        Device? cpu = null;
        Device? openCl = null;
        foreach (var device in context.Devices)
        {
            switch (device.AcceleratorType)
            {
                case AcceleratorType.Cuda when preferDevice:
                    return device;
                case AcceleratorType.OpenCL when preferDevice:
                    openCl ??= device;
                    break;
                case AcceleratorType.CPU:
                    cpu ??= device;
                    break;
            }
        }

        return openCl ?? cpu ?? context.GetCPUDevice(0);
    }

    private static void RequireLength(long actual, long expected, string name)
    {
        if (actual != expected)
        {
            throw new ArgumentException($"Expected {expected} elements, got {actual}.", name);
        }
    }

    // Float32 rows go to the device as they are (converted to the storage type while uploading, never widened first).
    private void Update<TSrc>(IBlockStorage storage, ReadOnlySpan<TSrc> gradients, int rows, double normalizer, bool rankK)
        where TSrc : unmanaged, System.Numerics.INumberBase<TSrc>
    {
        var s = Own(storage);
        if (!CheckGradients(s, gradients.Length, rows, normalizer))
        {
            return;
        }

        if (!rankK)
        {
            s.FreshScale = null;
        }

        if (s.Precision == Precision.Float32)
        {
            if (rankK)
            {
                _float32.Value.RankKUpdate(s, gradients, rows, normalizer, TiledRankK);
            }
            else
            {
                _float32.Value.RankOneUpdates(s, gradients, rows, normalizer);
            }
        }
        else if (rankK)
        {
            _float64.Value.RankKUpdate(s, gradients, rows, normalizer, TiledRankK);
        }
        else
        {
            _float64.Value.RankOneUpdates(s, gradients, rows, normalizer);
        }
    }

    private static bool CheckGradients(IlgpuBlockStorage storage, int length, int rows, double normalizer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        if (!(normalizer > 0) || !double.IsFinite(normalizer))
        {
            throw new ArgumentOutOfRangeException(nameof(normalizer), normalizer, "The normalizer N must be positive and finite.");
        }

        RequireLength(length, (long)rows * storage.Layout.Dimension, "gradients");
        return rows > 0;
    }

    private (Lazy<IlgpuKernelSet<float, FloatOps>>, Lazy<IlgpuKernelSet<double, DoubleOps>>) CreateKernelSets() =>
        (new(() => new IlgpuKernelSet<float, FloatOps>(Accelerator)), new(() => new IlgpuKernelSet<double, DoubleOps>(Accelerator)));

    private IlgpuBlockStorage Own(IBlockStorage storage)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (storage is not IlgpuBlockStorage s || !ReferenceEquals(s.Owner, this))
        {
            throw new ArgumentException("The storage was not allocated by this ILGPU backend.", nameof(storage));
        }

        ObjectDisposedException.ThrowIf(s.IsDisposed, s);
        return s;
    }
}
