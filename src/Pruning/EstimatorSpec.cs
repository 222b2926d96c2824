using WoodFisher.Kernels;

namespace WoodFisher.Pruning;

/// <summary>
/// One inverse-curvature estimate to build: a <see cref="PruningMethod"/> and the settings its construction reads, as
/// written <c>name[:key=value,...]</c> (see <see cref="MethodSpec"/> for the keys), e.g. <c>woodfisher:block=200</c>,
/// <c>woodfisher:block=50,damping=1e-4,samples=500</c>, <c>kfac</c>, <c>exact:treatment=abs</c>. The defaults here are the
/// library's one default per setting; every CLI verb shows and uses them.
/// </summary>
public sealed record EstimatorSpec
{
    /// <summary>The smallest block size <see cref="AutoBlockSize"/> chooses, and the kernels' own default c.</summary>
    public const int DefaultBlockSize = 100;

    /// <summary>
    /// <see cref="BlockSize"/> chosen from the number of weights d and the <see cref="MemoryBudget"/> (written
    /// <c>block=auto</c>, <c>--block auto</c>; the default): the largest c of <see cref="AutoBlockSizes"/> whose inverse
    /// holds at most <see cref="AutoBlockEntries"/> values and fits half the budget (<see cref="BlockSizeFor"/>).
    /// </summary>
    public const int AutoBlockSize = 0;

    /// <summary>The block sizes <see cref="AutoBlockSize"/> chooses from, largest first: 400, 200, 100.</summary>
    public static IReadOnlyList<int> AutoBlockSizes { get; } = [400, 200, DefaultBlockSize];

    /// <summary>
    /// The work cap of <see cref="AutoBlockSize"/>: at most 2²⁷ stored values d·c (512 MiB in float32), so that one
    /// estimate costs at most about m·d·c ≈ 1.3·10¹¹ multiply-adds from m = 1,000 gradient rows.
    /// </summary>
    public const long AutoBlockEntries = 1L << 27;

    /// <summary>
    /// <see cref="BlockSize"/> for full WoodFisher, c = d (written <c>block=full</c>): one block of all coordinates across
    /// layers, answered through m × m systems (<see cref="FullWoodFisherCurvature"/>).
    /// </summary>
    public const int FullBlockSize = int.MaxValue;

    /// <summary>
    /// The λ an estimate gets when its damping is <see cref="Pruning.Damping.Auto"/> but nothing can judge a choice: one
    /// estimate built on its own (<c>fisher</c>, <c>ihvp</c>, a study's matrices), outside a pruning step.
    /// </summary>
    public const double UnjudgedDamping = 1e-5;

    /// <summary>The default number of samples whose gradients enter an estimate.</summary>
    public const int DefaultSamples = 1000;

    /// <summary>Which method builds the estimate.</summary>
    public PruningMethod Method { get; init; } = PruningMethod.WoodFisher;

    /// <summary>
    /// Block size c for WoodFisher and for the joint-update blocks of K-FAC; <see cref="FullBlockSize"/> for c = d;
    /// <see cref="AutoBlockSize"/> (default) to choose it from d and the memory budget (<see cref="BlockSizeFor"/>).
    /// </summary>
    public int BlockSize { get; init; } = AutoBlockSize;

    /// <summary>
    /// The block size for <paramref name="dimension"/> weights: <see cref="BlockSize"/> when given, else the largest c
    /// of <see cref="AutoBlockSizes"/> with d·c ≤ <see cref="AutoBlockEntries"/> whose d·c values (4 bytes each in
    /// float32, 8 in float64) fit half the <see cref="MemoryBudget"/>; the smallest when none does (the builder then
    /// plans its passes or refuses).
    /// </summary>
    public int BlockSizeFor(long dimension)
    {
        if (BlockSize != AutoBlockSize)
        {
            return BlockSize;
        }

        var bytes = Precision == Precision.Float64 ? sizeof(double) : sizeof(float);
        foreach (var c in AutoBlockSizes)
        {
            var entries = (double)dimension * c;
            if (entries <= AutoBlockEntries && MemoryBudget.Fits((long)(entries * bytes), 0.5))
            {
                return c;
            }
        }

        return AutoBlockSizes[^1];
    }

    /// <summary>
    /// Damping λ &gt; 0, or <see cref="Pruning.Damping.Auto"/> (default): chosen at each pruning step from a grid by the
    /// pruned result's calibration loss (model mode) or a held-out quadratic (gradient rows alone); see <see cref="Pruner"/>.
    /// </summary>
    public Damping Damping { get; init; } = Damping.Auto;

    /// <summary>The fixed λ, or null when it is automatic (for reports).</summary>
    public double? FixedDamping => Damping.IsAuto ? null : Damping.Value;

    /// <summary>The λ one estimate is built with: the fixed λ, or <see cref="UnjudgedDamping"/> when it is automatic.</summary>
    public double DampingValue => Damping.IsAuto ? UnjudgedDamping : Damping.Value;

    /// <summary>Samples whose gradients (or factors, or Hessian) enter the estimate (model mode).</summary>
    public int Samples { get; init; } = DefaultSamples;

    /// <summary>Samples averaged per gradient row (the paper's Fisher mini-batch size).</summary>
    public int MiniBatch { get; init; } = 1;

    /// <summary>N in (1/N)Σgₙgₙᵀ; null = the number of gradient rows after averaging.</summary>
    public double? Normalizer { get; init; }

    /// <summary>Woodbury strategy for WoodFisher.</summary>
    public WoodburyStrategy Strategy { get; init; } = WoodburyStrategy.Auto;

    /// <summary>Backend for WoodFisher.</summary>
    public BackendKind Backend { get; init; } = BackendKind.Auto;

    /// <summary>Storage precision for WoodFisher.</summary>
    public Precision Precision { get; init; } = Precision.Float32;

    /// <summary>How negative Hessian eigenvalues are treated by <see cref="PruningMethod.Exact"/>.</summary>
    public IndefiniteTreatment Treatment { get; init; } = IndefiniteTreatment.Absolute;

    /// <summary>Damping split of K-FAC.</summary>
    public KfacDamping KfacDamping { get; init; } = KfacDamping.PiCorrected;

    /// <summary>null: the first samples in file order; otherwise samples drawn by this seed.</summary>
    public int? Seed { get; init; }

    /// <summary>Label used in tables and plots (the <c>name</c> key); null = <see cref="Label"/>'s default.</summary>
    public string? Name { get; init; }

    /// <summary>The spec as parsed, with its estimate keys only, e.g. <c>woodfisher:block=200</c>; null when built in code.</summary>
    public string? Text { get; init; }

    /// <summary>A short label: the given name, else the parsed text, else the method's name.</summary>
    public string Label => Name ?? Text ?? Method.Name;

    /// <summary>Checks the settings the method reads.</summary>
    /// <exception cref="ArgumentOutOfRangeException">c below 1 (other than <see cref="AutoBlockSize"/>), samples or
    /// mini-batch below 1, or a normalizer not positive and finite (a <see cref="Pruning.Damping"/> is checked when it is made).</exception>
    public void Validate()
    {
        if (BlockSize != AutoBlockSize)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(BlockSize, 1, nameof(BlockSize));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(Samples, 1, nameof(Samples));
        ArgumentOutOfRangeException.ThrowIfLessThan(MiniBatch, 1, nameof(MiniBatch));
        if (Normalizer is { } n && (!(n > 0) || !double.IsFinite(n)))
        {
            throw new ArgumentOutOfRangeException(nameof(Normalizer), n, $"{Label}: the normalizer N must be positive and finite.");
        }
    }

    /// <summary>
    /// Parses <c>name[:key=value,...]</c> with the estimator keys of <see cref="MethodSpec"/>, starting from
    /// <paramref name="defaults"/> for unspecified keys.
    /// </summary>
    /// <exception cref="FormatException">Unknown method or key, a key the method does not read, a pruning key
    /// (update, selection, recompute, stepping, taylor-step), or a value that does not parse.</exception>
    public static EstimatorSpec Parse(string text, EstimatorSpec? defaults = null) =>
        MethodSpec.Parse(text, defaults, pruningKeys: false).Estimator;
}
