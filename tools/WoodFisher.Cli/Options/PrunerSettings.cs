namespace WoodFisher.Cli.Options;

/// <summary>How weights are pruned once scored: <c>--update --selection --recompute --stepping --taylor-step</c>, the defaults of every method's keys.</summary>
internal class PrunerSettings : EstimatorSettings
{
    /// <summary>Help of a <c>--method</c> that takes one method of the registry (<see cref="PruningMethod.All"/>).</summary>
    public const string OneMethodHelp = "magnitude, diagfisher, kfac, woodfisher, woodtaylor or exact, with keys as name[:key=value,...]";

    [CommandOption("--update <MODE>"), Help("How the kept weights compensate: joint (exact OBS per block), independent (sum of single-weight OBS) or none. Magnitude has none."), DefaultValue("joint")]
    public string Update { get; init; } = "";

    [CommandOption("--selection <MODE>"), Help("global (one threshold across layers) or layerwise (the same sparsity in every layer)."), DefaultValue("global")]
    public string Selection { get; init; } = "";

    [CommandOption("--recompute <K>"), Help("Prune in K steps, recomputing the estimate at each step's weights (default 1; gradual: 4 within each pruning step).")]
    public int? Recompute { get; init; }

    [CommandOption("--stepping <MODE>"), Help("Sparsity of the K steps: cubic (large steps first) or linear."), DefaultValue("cubic")]
    public string Stepping { get; init; } = "";

    [CommandOption("--pattern <PATTERN>"), Help("What is pruned at a time: unstructured, N:M (at most N of every M inputs of a row kept, e.g. 2:4; its sparsity is (M-N)/M), block:RxC (tiles, e.g. block:1x4) or neurons (whole units; the sparsity counts hidden units removed). Groups are scored by their joint OBS cost."), DefaultValue("unstructured")]
    public string Pattern { get; init; } = "";

    [CommandOption("--taylor-step <ETA>"), Help("WoodTaylor: fraction η ≥ 0 of the Newton term H⁻¹g used (1 = the paper's, 0 = OBS); by default chosen with λ from 0, 0.001, 0.01, 0.1, 1 by the same criterion.")]
    public double? TaylorStep { get; init; }

    /// <summary>The pruner defaults these options give (sparsity and method set by the caller); K is
    /// <paramref name="recompute"/> when <c>--recompute</c> is not given.</summary>
    public PrunerOptions Pruner(int recompute = 1) => new()
    {
        Update = Read("--update", Update, Vocabulary.Update),
        Selection = Read("--selection", Selection, Vocabulary.Selection),
        RecomputeSteps = Check("--recompute", Recompute ?? recompute, Vocabulary.Count),
        Stepping = Read("--stepping", Stepping, Vocabulary.Stepping),
        Pattern = Read("--pattern", Pattern, PruningPattern.Parse),
        GradientStep = TaylorStep is { } eta ? Check("--taylor-step", eta, Vocabulary.NonNegative) : 1,
        GradientStepGrid = TaylorStep is null ? PrunerOptions.DefaultGradientSteps : null,
    };

    /// <summary>The methods of <paramref name="text"/> (<c>name[:key=value,...]</c>, comma-separated), defaults from these
    /// options (K = <paramref name="recompute"/> unless <c>--recompute</c> or a <c>recompute</c> key gives it).</summary>
    public IReadOnlyList<MethodSpec> Methods(string text, int recompute = 1) => Read("--method", text, t => MethodSpec.ParseList(t, Estimator(PruningMethod.WoodFisher), Pruner(recompute)));

    /// <summary>The one method of <paramref name="text"/>, for a <paramref name="verb"/> that takes one (as <see cref="Methods"/>).</summary>
    public MethodSpec OneMethod(string text, string verb, int recompute = 1)
    {
        var methods = Methods(text, recompute);
        return methods.Count == 1 ? methods[0] : throw new UsageException($"--method: {verb} takes one method, got {methods.Count} ({text})");
    }

    /// <summary>
    /// The one target sparsity of a <paramref name="verb"/>: N:M's own (M − N)/M, which <c>--sparsity</c> may not change,
    /// else the one value of <paramref name="sparsity"/>, then required (<paramref name="what"/> says what it is).
    /// </summary>
    public static double OneTarget(PruningPattern pattern, string? sparsity, string verb, string what)
    {
        if (pattern.Kind == PatternKind.NofM)
        {
            if (sparsity is not null)
                throw new UsageException($"--sparsity does not apply to --pattern {pattern}: N:M prunes {pattern.B - pattern.A} of every {pattern.B} inputs, sparsity {pattern.NofMSparsity.ToString(CultureInfo.InvariantCulture)}");
            return pattern.NofMSparsity;
        }

        var values = Read("--sparsity", VerbRun.Require(sparsity, "--sparsity", what), t => Vocabulary.List(t, Vocabulary.Sparsity));
        return values.Length == 1 ? values[0] : throw new UsageException($"--sparsity: {verb} takes one value, got {values.Length} ({sparsity})");
    }

    public override Spectre.Console.ValidationResult Validate()
    {
        Pruner();
        return base.Validate();
    }
}
