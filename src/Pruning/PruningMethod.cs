namespace WoodFisher.Pruning;

/// <summary>A pruning method: an estimator family together with the score it ranks by (see <see cref="PruningMethods.DefaultScore"/>).</summary>
public enum PruningMethod
{
    /// <summary>|w_q| with H⁻¹ = I (no curvature needed).</summary>
    Magnitude,

    /// <summary>OBS score with the diagonal empirical Fisher (OBD-style).</summary>
    DiagonalFisher,

    /// <summary>OBS score with the block-diagonal WoodFisher inverse.</summary>
    WoodFisher,

    /// <summary>WoodTaylor score (OBS with the gradient term) with the WoodFisher inverse.</summary>
    WoodTaylor,

    /// <summary>OBS score with the K-FAC inverse.</summary>
    Kfac,

    /// <summary>OBS score with the exact damped (dense) Hessian inverse.</summary>
    ExactHessian,
}

/// <summary>The ranking a pruner applies.</summary>
public enum ScoreKind
{
    /// <summary><see cref="MagnitudeScore"/>: |w_q|.</summary>
    Magnitude,

    /// <summary><see cref="ObsScore"/>: w_q²/(2[H⁻¹]_qq).</summary>
    Obs,

    /// <summary><see cref="WoodTaylorScore"/>: (w_q − [H⁻¹g]_q)²/(2[H⁻¹]_qq); needs the loss gradient g.</summary>
    WoodTaylor,
}

/// <summary>Names and defaults of <see cref="PruningMethod"/>.</summary>
public static class PruningMethods
{
    /// <summary>The score a method ranks by.</summary>
    public static ScoreKind DefaultScore(PruningMethod method) => method switch
    {
        PruningMethod.Magnitude => ScoreKind.Magnitude,
        PruningMethod.WoodTaylor => ScoreKind.WoodTaylor,
        _ => ScoreKind.Obs,
    };

    /// <summary>The command-line name: magnitude, diagfisher, woodfisher, woodtaylor, kfac, hessian.</summary>
    public static string Name(PruningMethod method) => method switch
    {
        PruningMethod.Magnitude => "magnitude",
        PruningMethod.DiagonalFisher => "diagfisher",
        PruningMethod.WoodFisher => "woodfisher",
        PruningMethod.WoodTaylor => "woodtaylor",
        PruningMethod.Kfac => "kfac",
        PruningMethod.ExactHessian => "hessian",
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "Unknown pruning method."),
    };

    /// <summary>Parses a command-line name (case-insensitive; "global-magnitude", "obd" and "exact" are accepted aliases).</summary>
    public static PruningMethod Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.Trim().ToLowerInvariant() switch
        {
            "magnitude" or "global-magnitude" => PruningMethod.Magnitude,
            "diagfisher" or "diagonal-fisher" or "obd" => PruningMethod.DiagonalFisher,
            "woodfisher" => PruningMethod.WoodFisher,
            "woodtaylor" => PruningMethod.WoodTaylor,
            "kfac" or "k-fac" => PruningMethod.Kfac,
            "hessian" or "exact" or "exact-hessian" => PruningMethod.ExactHessian,
            _ => throw new ArgumentException($"Unknown pruning method '{name}'; expected magnitude, diagfisher, woodfisher, woodtaylor, kfac or hessian.", nameof(name)),
        };
    }
}
