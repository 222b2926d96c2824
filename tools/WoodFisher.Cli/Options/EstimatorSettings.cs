namespace WoodFisher.Cli.Options;

/// <summary>How an inverse-curvature estimate is built: <c>--block --damping --strategy --backend --precision</c>, the defaults of every method's keys.</summary>
internal class EstimatorSettings : SampleSettings
{
    [CommandOption("--block <C>"), Help("Block size c of WoodFisher (and of K-FAC's joint updates); blocks restart at each layer. auto: the largest of 400, 200, 100 whose d·c values fit 2^27 and half the memory budget. full: c = d, one block across layers, through m × m systems."), DefaultValue("auto")]
    public string Block { get; init; } = "";

    [CommandOption("--damping <LAMBDA>"), Help("Damping λ > 0 added to the curvature (F̂ + λI), or auto: chosen at each pruning step from 1e-7…1e-1 by the pruned result's calibration loss (model mode) or a held-out quadratic of the gradient rows (tensor and layout modes); auto:λ1,λ2,… sets the grid. Where no pruning step judges it (fisher, ihvp, study), auto is 1e-5."), DefaultValue("auto")]
    public string Damping { get; init; } = "";

    [CommandOption("--strategy <S>"), Help("How WoodFisher blocks are inverted: auto, rank1, rankk or dense."), DefaultValue("auto")]
    public string Strategy { get; init; } = "";

    [CommandOption("--backend <B>"), Help("Kernels: cpu, ilgpu or auto (a CUDA/OpenCL device when present, else cpu). ilgpu without a device runs ILGPU's CPU accelerator, which is for tests and slow."), DefaultValue("auto")]
    public string Backend { get; init; } = "";

    [CommandOption("--precision <P>"), Help("Storage precision of the WoodFisher blocks: float32 or float64."), DefaultValue("float32")]
    public string Precision { get; init; } = "";

    /// <summary>The estimator defaults these options give, for <paramref name="method"/>.</summary>
    public EstimatorSpec Estimator(PruningMethod method) => new()
    {
        Method = method,
        BlockSize = Read("--block", Block, Vocabulary.BlockSize),
        Damping = Read("--damping", Damping, Vocabulary.Damping),
        Strategy = Read("--strategy", Strategy, Vocabulary.Strategy),
        Backend = Read("--backend", Backend, Vocabulary.Backend),
        Precision = Read("--precision", Precision, Vocabulary.Precision),
        Samples = Samples,
        MiniBatch = Minibatch,
        Seed = Seed,
    };

    public override Spectre.Console.ValidationResult Validate()
    {
        Estimator(PruningMethod.WoodFisher);
        return base.Validate();
    }
}
