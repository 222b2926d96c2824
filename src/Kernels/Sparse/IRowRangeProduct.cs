namespace WoodFisher.Kernels.Sparse;

/// <summary>A weight matrix whose product C = WB can be run in row ranges by separate callers (<see cref="SampleInputProduct"/>).</summary>
internal interface IRowRangeProduct
{
    /// <summary>Rows per unit of the layout: range boundaries inside the matrix are multiples of it.</summary>
    int RowUnit { get; }

    /// <summary>
    /// Rows [r0, r1) of C = WB + b1ᵀ (C row-major with n columns, <paramref name="bias"/> may be null), then max(·, 0) when
    /// <paramref name="relu"/>, on the calling thread.
    /// </summary>
    unsafe void MultiplyRows(float* b, int n, float* c, float* bias, bool relu, int r0, int r1);
}
