namespace WoodFisher.Kernels;

/// <summary>
/// What <see cref="JointObsUpdate"/> needs from wherever an inverse curvature lives (a backend's blocks, a dense float64
/// inverse, K-FAC factors): gather the principal sub-matrices [F⁻¹]_{Q_b Q_b} and scatter the columns F⁻¹E_{Q_b}
/// times a solution. Both are called for groups of consecutive blocks [first, last) of a <see cref="JointObsPlan"/>,
/// gather first; blocks with q_b = 0 are skipped.
/// </summary>
public interface IJointObsSource
{
    /// <summary>
    /// Writes [F⁻¹]_{Q_b Q_b} (q_b × q_b, row-major, in the order of <see cref="JointObsPlan.Local(int)"/>) at
    /// <paramref name="sub"/>[SubStart(b) − SubStart(first)] for every block b in [first, last).
    /// </summary>
    void Gather(JointObsPlan plan, int first, int last, double[] sub);

    /// <summary>
    /// Writes δ_b = [F⁻¹]_{b, Q_b} α_b (length c_b) at <paramref name="delta"/>[Offset(b)] for every block b in
    /// [first, last) with q_b &gt; 0, α_b at <paramref name="alpha"/>[EntryStart(b) − EntryStart(first)].
    /// </summary>
    void Scatter(JointObsPlan plan, int first, int last, double[] alpha, double[] delta);
}
