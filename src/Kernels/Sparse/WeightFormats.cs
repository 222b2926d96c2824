using System.Globalization;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// Turns a dense weight matrix into the <see cref="IWeightMatrix"/> that stores it in the fewest bytes: dense, CSR, N:M
/// (M ∈ {4, 8, 16}, N the most non-zeros of any group, tried when N ≤ M/2) or block-sparse (tiles 4×1, 1×4, 8×1, 1×8,
/// 2×2), and names formats in one spelling: <c>dense</c>, <c>csr</c>, <c>N:M</c> (e.g. <c>2:4</c>), <c>block:RxC</c>.
/// </summary>
public static class WeightFormats
{
    private static readonly int[] GroupLengths = [4, 8, 16];
    private static readonly (int R, int C)[] TileShapes = [(4, 1), (1, 4), (8, 1), (1, 8), (2, 2)];

    /// <summary>The matrix in the format with the fewest stored bytes (dense on ties).</summary>
    public static IWeightMatrix Compress(float[] dense, int rows, int columns)
    {
        ArgumentNullException.ThrowIfNull(dense);
        WeightChecks.Dense(dense.Length, rows, columns);
        var best = "dense";
        var bestBytes = 4L * rows * columns;
        void Consider(string name, long bytes)
        {
            if (bytes < bestBytes)
            {
                (best, bestBytes) = (name, bytes);
            }
        }

        long nnz = 0;
        foreach (var v in dense)
        {
            nnz += v != 0 ? 1 : 0;
        }

        Consider("csr", (4L * (rows + 1)) + (8L * nnz));
        foreach (var m in GroupLengths)
        {
            var n = Math.Max(1, MostPerGroup(dense, rows, columns, m));
            if (m <= columns && 2 * n <= m)
            {
                Consider($"{n}:{m}", 5L * rows * ((columns + m - 1) / m) * n);
            }
        }

        foreach (var (r, c) in TileShapes)
        {
            if (r <= rows && c <= columns)
            {
                var tiles = CountTiles(dense, rows, columns, r, c);
                Consider($"block:{r}x{c}", (4L * (((rows + r - 1) / r) + 1)) + (4L * tiles) + (4L * tiles * r * c));
            }
        }

        return Create(best, dense, rows, columns);
    }

    /// <summary>The matrix in the named format (see the class summary).</summary>
    /// <exception cref="FormatException">Not a format name.</exception>
    /// <exception cref="ArgumentException">The matrix does not fit the format (an N:M group with more than N non-zeros).</exception>
    public static IWeightMatrix Create(string format, float[] dense, int rows, int columns)
    {
        ArgumentNullException.ThrowIfNull(dense);
        var (kind, a, b) = Parse(format);
        return kind switch
        {
            WeightFormat.Dense => new DenseWeights(rows, columns, (float[])dense.Clone()),
            WeightFormat.Csr => CsrMatrix.FromDense(dense, rows, columns),
            WeightFormat.NofM => NofMMatrix.FromDense(dense, rows, columns, a, b),
            _ => BlockSparseMatrix.FromDense(dense, rows, columns, a, b),
        };
    }

    /// <summary>The name of a matrix's format, as <see cref="Create"/> reads it.</summary>
    public static string Name(IWeightMatrix matrix) => matrix switch
    {
        NofMMatrix nm => string.Create(CultureInfo.InvariantCulture, $"{nm.N}:{nm.M}"),
        BlockSparseMatrix bsr => string.Create(CultureInfo.InvariantCulture, $"block:{bsr.TileRows}x{bsr.TileColumns}"),
        CsrMatrix => "csr",
        _ => "dense",
    };

    /// <summary>Parses a format name into its kind and its two numbers (N and M, or R and C; zero for dense and CSR).</summary>
    /// <exception cref="FormatException">Not a format name.</exception>
    public static (WeightFormat Kind, int A, int B) Parse(string format)
    {
        ArgumentNullException.ThrowIfNull(format);
        var f = format.Trim().ToLowerInvariant();
        if (f == "dense")
        {
            return (WeightFormat.Dense, 0, 0);
        }

        if (f == "csr")
        {
            return (WeightFormat.Csr, 0, 0);
        }

        static bool Positive(string s, out int v) => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v) && v > 0;
        if (f.StartsWith("block:", StringComparison.Ordinal))
        {
            var rc = f[6..].Split('x');
            if (rc.Length == 2 && Positive(rc[0], out var r) && Positive(rc[1], out var c))
            {
                return (WeightFormat.Block, r, c);
            }
        }
        else
        {
            var nm = f.Split(':');
            if (nm.Length == 2 && Positive(nm[0], out var n) && Positive(nm[1], out var m) && n <= m && m <= 256)
            {
                return (WeightFormat.NofM, n, m);
            }
        }

        throw new FormatException($"'{format}' is not a weight format; use dense, csr, N:M (e.g. 2:4, N ≤ M ≤ 256) or block:RxC (e.g. block:4x1).");
    }

    private static int MostPerGroup(float[] dense, int rows, int columns, int m)
    {
        var most = 0;
        for (var r = 0; r < rows; r++)
        {
            for (var g = 0; g < columns; g += m)
            {
                var count = 0;
                var end = Math.Min(columns, g + m);
                for (var j = g; j < end; j++)
                {
                    count += dense[((long)r * columns) + j] != 0 ? 1 : 0;
                }

                most = Math.Max(most, count);
            }
        }

        return most;
    }

    private static long CountTiles(float[] dense, int rows, int columns, int tileRows, int tileColumns)
    {
        long tiles = 0;
        for (var br = 0; br < rows; br += tileRows)
        {
            for (var bc = 0; bc < columns; bc += tileColumns)
            {
                var any = false;
                for (var i = br; i < Math.Min(rows, br + tileRows) && !any; i++)
                {
                    for (var j = bc; j < Math.Min(columns, bc + tileColumns) && !any; j++)
                    {
                        any = dense[((long)i * columns) + j] != 0;
                    }
                }

                tiles += any ? 1 : 0;
            }
        }

        return tiles;
    }
}
