using WoodFisher.Models;
using WoodFisher.Pruning.Internal;
using WoodFisher.Pruning.Methods;

namespace WoodFisher.Pruning;

/// <summary>
/// One way to prune, and the one vocabulary for it: the inverse-curvature estimate H⁻¹ a method builds and the score it
/// ranks weights by. The registry (<see cref="All"/>, <see cref="Find"/>) holds six methods, each in its own file under
/// <c>Methods/</c> with its name, aliases, the <c>name:key=value</c> keys it reads (see <see cref="MethodSpec"/>) and its
/// construction: <c>magnitude</c> (H⁻¹ = I), <c>diagfisher</c>, <c>kfac</c>, <c>woodfisher</c>, <c>woodtaylor</c>
/// (WoodFisher with the gradient term) and <c>exact</c> (the damped Hessian). Model mode, tensor mode, studies and the CLI
/// all use these names. Instances are singletons: compare with <c>==</c>.
/// </summary>
public abstract class PruningMethod
{
    private protected PruningMethod(string name, string summary, IReadOnlyList<string> keys, params string[] aliases)
    {
        Name = name;
        Summary = summary;
        Keys = keys;
        Aliases = aliases;
    }

    /// <summary>|w_q| with H⁻¹ = I: no curvature, and no other weight changes (its update is always <see cref="UpdateMode.None"/>).</summary>
    public static PruningMethod Magnitude { get; } = new MagnitudeMethod();

    /// <summary>OBS with the diagonal empirical Fisher λ + (1/N)Σg² (OBD-style).</summary>
    public static PruningMethod DiagonalFisher { get; } = new DiagonalFisherMethod();

    /// <summary>OBS with the K-FAC inverse (per-layer Kronecker factors; needs the model).</summary>
    public static PruningMethod Kfac { get; } = new KfacMethod();

    /// <summary>OBS with the block-diagonal WoodFisher inverse built by Woodbury updates.</summary>
    public static PruningMethod WoodFisher { get; } = new WoodFisherMethod();

    /// <summary>WoodTaylor: the WoodFisher inverse with the first-order term of the loss gradient g.</summary>
    public static PruningMethod WoodTaylor { get; } = new WoodTaylorMethod();

    /// <summary>OBS with the exact damped Hessian of the loss (small models or layer subsets; needs the model).</summary>
    public static PruningMethod Exact { get; } = new ExactMethod();

    /// <summary>Every method, in the order help texts list them.</summary>
    public static IReadOnlyList<PruningMethod> All { get; } = [Magnitude, DiagonalFisher, Kfac, WoodFisher, WoodTaylor, Exact];

    /// <summary>The names of <see cref="All"/>, comma-separated, for messages and help.</summary>
    public static string Names => string.Join(", ", All.Select(m => m.Name));

    /// <summary>The one name, e.g. <c>woodfisher</c>.</summary>
    public string Name { get; }

    /// <summary>Other spellings accepted by <see cref="Find"/> (e.g. <c>obd</c> for <c>diagfisher</c>).</summary>
    public IReadOnlyList<string> Aliases { get; }

    /// <summary>One line for help texts.</summary>
    public string Summary { get; }

    /// <summary>The keys of <c>name:key=value</c> this method reads (see <see cref="MethodSpec"/>); others are refused.</summary>
    public IReadOnlyList<string> Keys { get; }

    /// <summary>Whether the estimate needs the model itself (K-FAC factors, the exact Hessian), not gradient rows alone.</summary>
    public virtual bool NeedsModel => false;

    /// <summary>Whether the method reads curvature at all (false for magnitude, whose H⁻¹ is I).</summary>
    public virtual bool UsesCurvature => true;

    /// <summary>Whether the score and update use the loss gradient g (WoodTaylor).</summary>
    public virtual bool UsesLossGradient => false;

    /// <summary>
    /// The update this method applies when <paramref name="requested"/> is asked for: the request itself, except for
    /// magnitude, whose identity inverse moves no other weight (always <see cref="UpdateMode.None"/>).
    /// </summary>
    public virtual UpdateMode EffectiveUpdate(UpdateMode requested) => requested;

    /// <summary>
    /// Scores ρ (length d, lower = pruned first). OBS methods: ρ_q = w_q²/(2[H⁻¹]_qq); magnitude: |w_q|; WoodTaylor:
    /// (w_q − [H⁻¹g]_q)²/(2[H⁻¹]_qq) with <paramref name="inverseTimesGradient"/> = H⁻¹g.
    /// </summary>
    public virtual double[] Score(ReadOnlySpan<double> weights, IInverseCurvature inverse, ReadOnlySpan<double> inverseTimesGradient) =>
        ObsScore.Compute(weights, inverse);

    /// <summary>
    /// Builds H⁻¹ from gradient rows alone (tensor mode): <paramref name="gradients"/> are the rows of G (m × d) in
    /// coordinate order, its segments the layers.
    /// </summary>
    /// <exception cref="NotSupportedException">The method needs the model (<see cref="NeedsModel"/>).</exception>
    public virtual IInverseCurvature FromGradients(IGradientSource gradients, EstimatorSpec spec) =>
        throw new NotSupportedException($"{Name} needs the model ({Summary}); gradient rows alone do not define it. Use one of {string.Join(", ", All.Where(m => !m.NeedsModel).Select(m => m.Name))}.");

    /// <summary>
    /// Builds H⁻¹ for <paramref name="model"/>'s selection on the samples <paramref name="x"/> / <paramref name="labels"/>
    /// (already the spec's subset), timing gradients and inverse. By default from the model's per-sample gradients
    /// (mini-batch averaged by <see cref="EstimatorSpec.MiniBatch"/>) through <see cref="FromGradients"/>.
    /// </summary>
    internal virtual CurvatureEstimate FromModel(ModelCurvature model, float[] x, int[] labels, EstimatorSpec spec)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(spec);
        var source = new TimedGradientSource(new PerSampleGradientSource(model.Model, x, labels, labels.Length, model.Selection, spec.MiniBatch));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // The per-sample source already averages each mini-batch into one row.
        var inverse = FromGradients(source, spec with { MiniBatch = 1 });
        var total = clock.Elapsed.TotalSeconds;
        return new CurvatureEstimate(inverse) { GradientSeconds = source.Seconds, InverseSeconds = Math.Max(0, total - source.Seconds) };
    }

    /// <summary>
    /// The model-mode statistics of one pruning step from which H⁻¹ is built at any damping λ (so that a damping search
    /// gathers them once), for the surviving weights of <paramref name="mask"/> (true = kept). Null for the methods built
    /// from per-sample gradient rows, which the caller holds or streams (masked) into <see cref="FromGradients"/>.
    /// </summary>
    internal virtual Func<double, IInverseCurvature>? ModelStatistics(ModelCurvature model, float[] x, int[] labels, EstimatorSpec spec, bool[] mask) => null;

    /// <summary>The method called <paramref name="name"/> (a name or an alias, any case).</summary>
    /// <exception cref="FormatException">No such method; the message lists the names and suggests the nearest.</exception>
    public static PruningMethod Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var key = name.Trim().ToLowerInvariant();
        foreach (var m in All)
        {
            if (m.Name == key || m.Aliases.Contains(key))
            {
                return m;
            }
        }

        var hint = Suggest.Nearest(key, All.SelectMany(m => m.Aliases.Prepend(m.Name)));
        throw new FormatException($"unknown method \"{name.Trim()}\"{(hint is null ? "" : $" (did you mean {Find(hint).Name}?)")}; expected one of {Names}");
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}
