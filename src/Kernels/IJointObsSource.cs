namespace WoodFisher.Kernels;

/// <summary>
/// What <see cref="JointObsUpdate"/> needs from wherever an inverse curvature lives (a backend's blocks, a dense float64
/// inverse, K-FAC factors): the columns [F⁻¹]_{b, Q_b} of each block, in float64. Everything else (the sub-matrix
/// [F⁻¹]_QQ, the solve, δw = [F⁻¹]_{b,Q}α) is done once, by the update itself.
/// </summary>
public interface IJointObsSource
{
    /// <summary>
    /// Writes [F⁻¹]_{b, Q_b} (c_b × q_b, row-major, columns in the order of <see cref="JointObsPlan.Local(int)"/>) at
    /// <paramref name="columns"/>[ColumnStart(b) − ColumnStart(first)] for every block b in [first, last) with q_b &gt; 0.
    /// </summary>
    void GatherColumns(JointObsPlan plan, int first, int last, double[] columns);
}
