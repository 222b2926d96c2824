namespace WoodFisher.Kernels.Sparse;

/// <summary>How an inference layer stores its weight matrix W (rows × columns, float32).</summary>
public enum WeightFormat
{
    /// <summary>Row-major dense: rows·columns values.</summary>
    Dense,

    /// <summary>Compressed sparse rows: values, column indices and row pointers of the non-zeros (<see cref="CsrMatrix"/>).</summary>
    Csr,

    /// <summary>N:M: at most N non-zeros in every M consecutive inputs of a row, stored as N values and N in-group offsets per group (<see cref="NofMMatrix"/>).</summary>
    NofM,

    /// <summary>Block-sparse rows: dense R × C tiles, only the tiles holding a non-zero stored (<see cref="BlockSparseMatrix"/>).</summary>
    Block,
}
