namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// Compressed sparse rows: the non-zeros of row r are <c>Values[RowPointers[r]..RowPointers[r+1]]</c> at columns
/// <c>ColumnIndices[…]</c>. Stored bytes 4·(rows + 1) + 8·nnz, so at density δ it takes about 2δ of the dense bytes
/// (0.2× at 90% sparsity). y = Wx gathers x at the row's columns; C = WB sums rows of B scaled by the row's values.
/// </summary>
public sealed class CsrMatrix : IWeightMatrix
{
    private readonly int[] _rowPointers;
    private readonly int[] _columns;
    private readonly float[] _values;
    private readonly RowStore _store;

    /// <summary>Wraps the three arrays after checking them (they are kept, not copied).</summary>
    /// <exception cref="ArgumentException">Pointers not starting at 0, decreasing, or not ending at the number of values; a column
    /// outside [0, columns) or not above the previous one in its row.</exception>
    public CsrMatrix(int rows, int columns, int[] rowPointers, int[] columnIndices, float[] values)
    {
        WeightChecks.Shape(rows, columns);
        ArgumentNullException.ThrowIfNull(rowPointers);
        ArgumentNullException.ThrowIfNull(columnIndices);
        ArgumentNullException.ThrowIfNull(values);
        WeightChecks.CompressedRows(rows, columns, rowPointers, columnIndices, values.Length, 1, "column", "values", nameof(columnIndices));
        (Rows, Columns, _rowPointers, _columns, _values) = (rows, columns, rowPointers, columnIndices, values);
        _store = new RowStore(rows, columns, values, columnIndices, rowPointers, RowStore.DefaultChunkRows,
            RowStore.ScanChunks(rows, columns, columnIndices, rowPointers, RowStore.DefaultChunkRows));
    }

    /// <inheritdoc/>
    public int Rows { get; }

    /// <inheritdoc/>
    public int Columns { get; }

    /// <inheritdoc/>
    public WeightFormat Format => WeightFormat.Csr;

    /// <summary>Row pointers (rows + 1).</summary>
    public ReadOnlySpan<int> RowPointers => _rowPointers;

    /// <summary>Column index of each stored value.</summary>
    public ReadOnlySpan<int> ColumnIndices => _columns;

    /// <summary>The stored values, row by row.</summary>
    public ReadOnlySpan<float> Values => _values;

    /// <inheritdoc/>
    public long StoredValues => _values.Length;

    /// <inheritdoc/>
    public long StoredBytes => (4L * _rowPointers.Length) + (8L * _values.Length);

    /// <summary>The non-zeros of a row-major dense matrix (exact zeros are dropped; −0 counts as zero).</summary>
    public static CsrMatrix FromDense(ReadOnlySpan<float> dense, int rows, int columns)
    {
        WeightChecks.Dense(dense.Length, rows, columns);
        var nnz = 0;
        foreach (var v in dense)
        {
            if (v != 0)
            {
                nnz++;
            }
        }

        var pointers = new int[rows + 1];
        var cols = new int[nnz];
        var values = new float[nnz];
        var e = 0;
        for (var r = 0; r < rows; r++)
        {
            var row = dense.Slice(r * columns, columns);
            for (var j = 0; j < columns; j++)
            {
                if (row[j] != 0)
                {
                    cols[e] = j;
                    values[e++] = row[j];
                }
            }

            pointers[r + 1] = e;
        }

        return new CsrMatrix(rows, columns, pointers, cols, values);
    }

    /// <inheritdoc/>
    public void MultiplyVector(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> bias = default, bool relu = false) => _store.MultiplyVector(x, y, bias, relu);

    /// <inheritdoc/>
    public void Multiply(ReadOnlySpan<float> b, int n, Span<float> c, ReadOnlySpan<float> bias = default, bool relu = false) => _store.Multiply(b, n, c, bias, relu);

    /// <inheritdoc/>
    public float[] ToDense() => _store.ToDense();
}
