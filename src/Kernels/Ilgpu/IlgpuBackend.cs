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
public sealed class IlgpuBackend : CurvatureBackend
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
        TiledRankK = StagedUploads = Accelerator.AcceleratorType != AcceleratorType.CPU;
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
        TiledRankK = StagedUploads = Accelerator.AcceleratorType != AcceleratorType.CPU;
        (_float32, _float64) = CreateKernelSets();
    }

    /// <summary>The accelerator running the kernels.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>The kind of accelerator: <see cref="AcceleratorType.Cuda"/>, <see cref="AcceleratorType.OpenCL"/> or <see cref="AcceleratorType.CPU"/>.</summary>
    public AcceleratorType AcceleratorType => Accelerator.AcceleratorType;

    /// <summary>"ilgpu-cuda", "ilgpu-opencl" or "ilgpu-cpu".</summary>
    public override string Name => Accelerator.AcceleratorType switch
    {
        AcceleratorType.Cuda => "ilgpu-cuda",
        AcceleratorType.OpenCL => "ilgpu-opencl",
        _ => "ilgpu-cpu",
    };

    /// <summary>Gradients folded into each rank-k step of <see cref="CurvatureBackend.RankKUpdate(IBlockStorage, ReadOnlySpan{double}, int, double)"/> (fewer when d &gt; 2²²).</summary>
    public static int RankKChunk => IlgpuKernelSet<float, FloatOps>.RankK;

    /// <summary>
    /// Whether <see cref="CurvatureBackend.RankKUpdate(IBlockStorage, ReadOnlySpan{double}, int, double)"/> applies F⁻¹ −= U S⁻¹ Uᵀ with the shared-memory tiled kernel. On by default
    /// on CUDA/OpenCL; off on the CPU accelerator, whose emulated group barriers make tiling far slower (tests turn it on).
    /// </summary>
    internal bool TiledRankK { get; set; }

    /// <summary>Whether rank-k gradient chunks go through page-locked buffers (<see cref="StagedUpload{T}"/>): on a device, not on the CPU accelerator.</summary>
    internal bool StagedUploads { get; set; }

    /// <summary>When set, the rank-k update synchronises after each phase and charges its time here (tuning only).</summary>
    internal IlgpuPhaseClock? Clock { get; set; }

    /// <inheritdoc />
    public override IBlockStorage Allocate(BlockLayout layout, Precision precision)
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
    protected override void CheckOwnership(IBlockStorage storage) => Own(storage);

    /// <inheritdoc />
    protected override void SetScaledIdentityCore(IBlockStorage storage, double value)
    {
        var s = Own(storage);
        Kernels(s).SetScaledIdentity(s, value);
        s.FreshScale = s.Precision == Precision.Float32 ? (float)value : value;
    }

    /// <inheritdoc />
    protected override void WriteCore(IBlockStorage storage, ReadOnlySpan<double> blocks)
    {
        var s = Own(storage);
        s.FreshScale = null;
        Kernels(s).Write(s, blocks);
    }

    /// <inheritdoc />
    protected override void ReadCore(IBlockStorage storage, Span<double> blocks)
    {
        var s = Own(storage);
        Kernels(s).Read(s, blocks);
    }

    /// <inheritdoc />
    protected override void ReadBlockCore(IBlockStorage storage, int block, Span<double> destination)
    {
        var s = Own(storage);
        Kernels(s).ReadBlock(s, block, destination);
    }

    /// <inheritdoc />
    protected override void DiagonalCore(IBlockStorage storage, Span<double> diagonal)
    {
        var s = Own(storage);
        Kernels(s).Diagonal(s, diagonal);
    }

    /// <inheritdoc />
    protected override void MultiplyCore(IBlockStorage storage, ReadOnlySpan<double> vectors, Span<double> result, int count)
    {
        var s = Own(storage);
        Kernels(s).Multiply(s, vectors, result, count);
    }

    /// <inheritdoc />
    protected override void UpdateCore<TSrc>(IBlockStorage storage, ReadOnlySpan<TSrc> gradients, int rows, double normalizer, bool rankK)
    {
        // Float32 rows go to the device as they are (converted to the storage type while uploading, never widened first).
        var s = Own(storage);
        if (rankK)
        {
            Kernels(s).RankKUpdate(s, gradients, rows, normalizer, new RankKKernels(TiledRankK, StagedUploads, Clock));
        }
        else
        {
            s.FreshScale = null;
            Kernels(s).RankOneUpdates(s, gradients, rows, normalizer);
        }
    }

    /// <inheritdoc />
    protected override IJointObsSource ObsSource(IBlockStorage storage)
    {
        var s = Own(storage);
        return new ObsColumns(Kernels(s), s);
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_float32.IsValueCreated)
        {
            _float32.Value.Dispose();
        }

        if (_float64.IsValueCreated)
        {
            _float64.Value.Dispose();
        }

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

    private (Lazy<IlgpuKernelSet<float, FloatOps>>, Lazy<IlgpuKernelSet<double, DoubleOps>>) CreateKernelSets() =>
        (new(() => new IlgpuKernelSet<float, FloatOps>(Accelerator)), new(() => new IlgpuKernelSet<double, DoubleOps>(Accelerator)));

    private IIlgpuKernelSet Kernels(IlgpuBlockStorage storage) => storage.Precision == Precision.Float32 ? _float32.Value : _float64.Value;

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

    /// <summary>The column gather of the joint OBS update on this backend's blocks.</summary>
    private sealed class ObsColumns(IIlgpuKernelSet kernels, IlgpuBlockStorage storage) : IJointObsSource
    {
        public void GatherColumns(JointObsPlan plan, int first, int last, double[] columns) => kernels.GatherColumns(storage, plan, first, last, columns);
    }
}
