namespace WoodFisher.Kernels.Sparse;

/// <summary>Argument checks shared by every <see cref="IWeightMatrix"/>.</summary>
internal static class WeightChecks
{
    public static void Shape(int rows, int columns)
    {
        if (rows < 1 || columns < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), $"A weight matrix needs at least one row and one column, got {rows} × {columns}.");
        }
    }

    public static void Vector(IWeightMatrix w, int x, int y, int bias) => Vector(w.Rows, w.Columns, x, y, bias);

    public static void Vector(int rows, int columns, int x, int y, int bias)
    {
        if (x != columns || y != rows || (bias != 0 && bias != rows))
        {
            throw new ArgumentException($"y = Wx + b with W {rows} × {columns} needs x of {columns}, y of {rows} and b of {rows} (or none); got {x}, {y} and {bias}.");
        }
    }

    public static void Product(IWeightMatrix w, int b, int n, int c, int bias) => Product(w.Rows, w.Columns, b, n, c, bias);

    public static void Product(int rows, int columns, int b, int n, int c, int bias)
    {
        if (n < 1 || (long)columns * n != b || (long)rows * n != c || (bias != 0 && bias != rows))
        {
            throw new ArgumentException($"C = WB + b with W {rows} × {columns} and n = {n} needs B of {(long)columns * n}, C of {(long)rows * n} and b of {rows} (or none); got {b}, {c} and {bias}.");
        }
    }

    /// <summary>The dense row-major array a <c>FromDense</c> factory reads: rows·columns values, all finite or zero.</summary>
    public static void Dense(int length, int rows, int columns)
    {
        Shape(rows, columns);
        if ((long)rows * columns != length)
        {
            throw new ArgumentException($"A {rows} × {columns} matrix has {(long)rows * columns} values, got {length}.");
        }
    }

    /// <summary>
    /// Refuses, before allocating, an array of <paramref name="count"/> 4-byte entries that a product needs beside the
    /// stored arrays (decoded columns, chunk pointers) when it would not fit one array or <see cref="MemoryBudget"/>.
    /// </summary>
    public static void Auxiliary(long count, string what)
    {
        if (count > Array.MaxLength)
        {
            throw new ArgumentException($"{what} would need {count:N0} entries, more than one array holds.");
        }

        MemoryBudget.Require(MemoryBudget.Product(count, 4), what);
    }

    /// <summary>Tiles of R × C for a rows × columns matrix: at least 1 × 1, at most the matrix.</summary>
    public static void Tiles(int rows, int columns, int tileRows, int tileColumns)
    {
        if (tileRows < 1 || tileColumns < 1 || tileRows > rows || tileColumns > columns)
        {
            throw new ArgumentException($"Tiles of a {rows} × {columns} matrix must be between 1 × 1 and the matrix; got {tileRows} × {tileColumns}.");
        }
    }

    /// <summary>
    /// Compressed rows (CSR's rows, or BSR's block rows over block columns): rows + 1 <paramref name="rowPointers"/>,
    /// <paramref name="valuesPerEntry"/> values per index, pointers that run from 0 to the number of
    /// <paramref name="indices"/> and never decrease, and each row's indices ascending inside [0, <paramref name="columns"/>).
    /// </summary>
    /// <param name="rows">Rows (block rows) the pointers delimit.</param>
    /// <param name="columns">Columns (block columns) an index may name.</param>
    /// <param name="rowPointers">rows + 1 pointers into <paramref name="indices"/>.</param>
    /// <param name="indices">Each entry's column (block column).</param>
    /// <param name="values">Number of stored values.</param>
    /// <param name="valuesPerEntry">Values per index: 1 for CSR, R·C for tiles.</param>
    /// <param name="unit">What an index names, for messages: "column" or "block column".</param>
    /// <param name="entries">What the pointers count, for messages: "values" or "tiles".</param>
    /// <param name="indicesName">The constructor parameter holding <paramref name="indices"/> (reported by <see cref="SparseArrayException"/>).</param>
    public static void CompressedRows(int rows, int columns, int[] rowPointers, int[] indices, long values, int valuesPerEntry, string unit, string entries, string indicesName)
    {
        if (rowPointers.Length != rows + 1 || (long)indices.Length * valuesPerEntry != values)
        {
            var per = valuesPerEntry == 1 ? $"as many {unit} indices as values" : $"{valuesPerEntry} values per {entries.TrimEnd('s')}";
            throw new ArgumentException($"{rows} rows of {entries} need {rows + 1} row pointers and {per}; got {rowPointers.Length} pointers, {indices.Length} indices and {values} values.");
        }

        if (rowPointers[0] != 0 || rowPointers[rows] != indices.Length)
        {
            throw new SparseArrayException($"Row pointers must run from 0 to the {indices.Length} {entries}; they run from {rowPointers[0]} to {rowPointers[rows]}.", "rowPointers", rowPointers[0] != 0 ? 0 : rows);
        }

        for (var r = 0; r < rows; r++)
        {
            if (rowPointers[r + 1] < rowPointers[r])
            {
                throw new SparseArrayException($"Row pointer {r + 1} ({rowPointers[r + 1]}) is below row pointer {r} ({rowPointers[r]}).", "rowPointers", r + 1);
            }
        }

        var name = char.ToUpperInvariant(unit[0]) + unit[1..];
        for (var r = 0; r < rows; r++)
        {
            for (var e = rowPointers[r]; e < rowPointers[r + 1]; e++)
            {
                if ((uint)indices[e] >= (uint)columns)
                {
                    throw new SparseArrayException($"{name} index {e} is {indices[e]}, outside [0, {columns}).", indicesName, e);
                }

                if (e > rowPointers[r] && indices[e] <= indices[e - 1])
                {
                    throw new SparseArrayException($"{name} index {e} ({indices[e]}) does not follow {unit} index {e - 1} ({indices[e - 1]}) of row {r}: {unit}s must ascend within a row.", indicesName, e);
                }
            }
        }
    }
}
