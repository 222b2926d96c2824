using System.Globalization;
using System.Text;
using System.Text.Json;
using WoodFisher.Kernels;
using WoodFisher.Kernels.Sparse;

namespace WoodFisher.IO;

/// <summary>A weight matrix read from a compressed file: its parameter name, its parameter shape and the matrix.</summary>
/// <param name="Name">Parameter name, e.g. <c>fc1.weight</c>.</param>
/// <param name="Shape">The parameter's shape ([out, in] or [out, in, k, k]); the matrix is shape[0] × the product of the rest.</param>
/// <param name="Matrix">The stored matrix.</param>
public sealed record SparseWeight(string Name, long[] Shape, IWeightMatrix Matrix);

/// <summary>
/// Sparse weight matrices inside a safetensors file. A weight <c>NAME</c> stored sparse has no tensor <c>NAME</c>; instead
/// an entry <c>{"format": F, "shape": [...]}</c> in the JSON object held by the <c>__metadata__</c> key
/// <see cref="MetadataKey"/>, and these tensors (PyTorch's <c>torch.sparse_csr_tensor</c> and <c>torch.sparse_bsr_tensor</c>
/// arguments for CSR and block):
/// <list type="bullet">
/// <item><c>csr</c>: <c>NAME.crow_indices</c> I32 or I64 [rows + 1], <c>NAME.col_indices</c> I32 or I64 [nnz] (ascending within a row), <c>NAME.values</c> F32 [nnz];</item>
/// <item><c>N:M</c>: <c>NAME.values</c> F32 [rows, G·N] and <c>NAME.offsets</c> U8 [rows, G·N] (G = ⌈columns/M⌉; each value's offset inside its group of M inputs);</item>
/// <item><c>block:RxC</c>: <c>NAME.crow_indices</c> I32 or I64 [⌈rows/R⌉ + 1], <c>NAME.col_indices</c> I32 or I64 [tiles] (block columns, ascending within a block row), <c>NAME.values</c> F32 [tiles, R, C].</item>
/// </list>
/// rows = shape[0], columns = the product of the other dimensions. Reading treats the file as untrusted: shapes, dtypes
/// and lengths are checked against the entry, every pointer and index against the format (the message gives the byte
/// offset of the bad entry), and dense expansions against <see cref="MemoryBudget"/> before they are allocated.
/// </summary>
public static class SparseTensors
{
    /// <summary>The <c>__metadata__</c> key of the JSON object describing the sparse weights.</summary>
    public const string MetadataKey = "woodfisher.sparse";

    /// <summary>The tensors that store <paramref name="matrix"/> as weight <paramref name="name"/> (none for a dense matrix: store it as a plain tensor).</summary>
    public static IReadOnlyList<NamedArray> ToTensors(string name, IWeightMatrix matrix)
    {
        ArgumentNullException.ThrowIfNull(name);
        return matrix switch
        {
            CsrMatrix m => [
                new NamedArray(name + ".crow_indices", NdArray.Create(m.RowPointers.ToArray())),
                new NamedArray(name + ".col_indices", NdArray.Create(m.ColumnIndices.ToArray())),
                new NamedArray(name + ".values", NdArray.Create(m.Values.ToArray()))],
            NofMMatrix m => [
                new NamedArray(name + ".values", NdArray.Create(m.Values.ToArray(), m.Rows, (long)m.Groups * m.N)),
                new NamedArray(name + ".offsets", NdArray.Create(m.Offsets.ToArray(), m.Rows, (long)m.Groups * m.N))],
            BlockSparseMatrix m => [
                new NamedArray(name + ".crow_indices", NdArray.Create(m.RowPointers.ToArray())),
                new NamedArray(name + ".col_indices", NdArray.Create(m.BlockColumns.ToArray())),
                new NamedArray(name + ".values", NdArray.Create(m.Values.ToArray(), m.Tiles, m.TileRows, m.TileColumns))],
            DenseWeights => [],
            null => throw new ArgumentNullException(nameof(matrix)),
            _ => throw new NotSupportedException($"No file layout for {matrix.GetType().Name}."),
        };
    }

    /// <summary>The <see cref="MetadataKey"/> value describing <paramref name="weights"/> (dense ones are left out).</summary>
    public static string Describe(IEnumerable<SparseWeight> weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            foreach (var w in weights.Where(w => w.Matrix.Format != WeightFormat.Dense))
            {
                json.WriteStartObject(w.Name);
                json.WriteString("format", WeightFormats.Name(w.Matrix));
                json.WriteStartArray("shape");
                foreach (var d in w.Shape)
                    json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Whether <paramref name="file"/> holds sparse weights.</summary>
    public static bool IsCompressed(SafeTensorsFile file) => file?.Metadata.ContainsKey(MetadataKey) ?? throw new ArgumentNullException(nameof(file));

    /// <summary>The sparse weights of a file read from <paramref name="path"/>, checked (see the class summary).</summary>
    /// <exception cref="InvalidDataException">A description, tensor or entry breaks the format; the message names the file, the tensor and, for a bad entry, its byte offset.</exception>
    public static IReadOnlyList<SparseWeight> Read(SafeTensorsFile file, string path)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (!file.Metadata.TryGetValue(MetadataKey, out var description))
            return [];
        InvalidDataException Bad(string what) => new($"{path}: {what}");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(description, new JsonDocumentOptions { MaxDepth = 4 });
        }
        catch (JsonException ex)
        {
            throw Bad($"__metadata__ '{MetadataKey}' is not valid JSON: {ex.Message}");
        }

        var result = new List<SparseWeight>();
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw Bad($"__metadata__ '{MetadataKey}' is not a JSON object");
            foreach (var entry in doc.RootElement.EnumerateObject())
                result.Add(ReadOne(file, path, entry));
        }
        return result;
    }

    /// <summary>
    /// <paramref name="file"/> with every sparse weight replaced by its dense tensor (the file itself when it has none), so
    /// that a compressed model loads wherever a dense one does.
    /// </summary>
    /// <exception cref="InvalidDataException">As <see cref="Read"/>.</exception>
    /// <exception cref="InsufficientMemoryException">The dense weights would not fit the memory budget.</exception>
    public static SafeTensorsFile Expand(SafeTensorsFile file, string path)
    {
        ArgumentNullException.ThrowIfNull(file);
        var sparse = Read(file, path);
        if (sparse.Count == 0)
            return file;
        long dense = 0;
        foreach (var w in sparse)
            dense = MemoryBudget.Sum(dense, MemoryBudget.Product(w.Matrix.Rows, w.Matrix.Columns, sizeof(float)));
        MemoryBudget.Require(dense, $"{path}: the dense copies of its {sparse.Count} sparse weights");
        var parts = sparse.SelectMany(w => PartNames(w.Name, w.Matrix.Format)).ToHashSet(StringComparer.Ordinal);
        var tensors = file.Tensors.Where(t => !parts.Contains(t.Name)).ToList();
        foreach (var w in sparse)
            tensors.Add(new NamedArray(w.Name, NdArray.Create(w.Matrix.ToDense(), w.Shape)));
        var metadata = file.Metadata.Where(kv => kv.Key != MetadataKey).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        return new SafeTensorsFile(tensors, metadata);
    }

    private static string[] PartNames(string name, WeightFormat format) => format == WeightFormat.NofM
        ? [name + ".values", name + ".offsets"]
        : [name + ".crow_indices", name + ".col_indices", name + ".values"];

    private static SparseWeight ReadOne(SafeTensorsFile file, string path, JsonProperty entry)
    {
        var name = entry.Name;
        var shown = Printable.Escape(name);
        InvalidDataException Bad(string what) => new($"{path}: sparse weight '{shown}': {what}");
        var v = entry.Value;
        if (v.ValueKind != JsonValueKind.Object || !v.TryGetProperty("format", out var f) || f.ValueKind != JsonValueKind.String
            || !v.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw Bad("the entry must be {\"format\": \"...\", \"shape\": [...]}");
        var shape = new List<long>();
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var dim) || dim < 1 || dim > int.MaxValue)
                throw Bad("shape entries must be integers between 1 and 2³¹−1");
            shape.Add(dim);
        }
        if (shape.Count < 2)
            throw Bad($"a weight matrix needs a shape of rank 2 or more, got [{string.Join(", ", shape)}]");
        var rows = (int)shape[0];
        var columnsLong = shape.Skip(1).Aggregate(1L, (a, b) => a > int.MaxValue ? a : a * b);
        if (columnsLong > int.MaxValue)
            throw Bad($"shape [{string.Join(", ", shape)}] has more than 2³¹−1 inputs per row");
        var columns = (int)columnsLong;
        (WeightFormat Kind, int A, int B) format;
        try
        {
            format = WeightFormats.Parse(f.GetString()!);
        }
        catch (FormatException ex)
        {
            throw Bad(Printable.Escape(ex.Message));
        }
        if (format.Kind == WeightFormat.Dense)
            throw Bad("dense weights are stored as plain tensors, not described as sparse");
        if (file.Contains(name))
            throw Bad("the file also holds a dense tensor of that name");

        NdArray Tensor(string suffix, DType dtype, params long[] expected)
        {
            var tname = name + suffix;
            if (!file.Contains(tname))
                throw Bad($"tensor '{Printable.Escape(tname)}' is missing");
            var t = file[tname];
            if (t.DType != dtype || (expected.Length > 0 && !t.Shape.SequenceEqual(expected)))
                throw Bad($"tensor '{Printable.Escape(tname)}' is {t}, expected {dtype}[{(expected.Length > 0 ? string.Join(", ", expected) : "n")}]");
            return t;
        }

        // PyTorch's sparse tensors hold int64 indices; they are read as int32, every one checked to fit.
        int[] Indices(string suffix, long expected)
        {
            var tname = name + suffix;
            if (!file.Contains(tname))
                throw Bad($"tensor '{Printable.Escape(tname)}' is missing");
            var t = file[tname];
            if ((t.DType != DType.Int32 && t.DType != DType.Int64) || t.Shape.Count != 1 || t.Shape[0] != expected)
                throw Bad($"tensor '{Printable.Escape(tname)}' is {t}, expected Int32[{expected}] or Int64[{expected}]");
            if (t.DType == DType.Int32)
                return t.GetData<int>();
            var wide = t.GetData<long>();
            var narrow = new int[wide.Length];
            for (var i = 0; i < wide.Length; i++)
            {
                if (wide[i] is < int.MinValue or > int.MaxValue)
                {
                    var at = file.DataOffset(tname);
                    var where = at < 0 ? $"entry {i}" : string.Create(CultureInfo.InvariantCulture, $"byte {at + (i * 8L)} (entry {i})");
                    throw new InvalidDataException($"{path}: tensor '{Printable.Escape(tname)}' at {where}: index {wide[i]} does not fit 32 bits.");
                }
                narrow[i] = (int)wide[i];
            }
            return narrow;
        }

        try
        {
            switch (format.Kind)
            {
                case WeightFormat.Csr:
                    {
                        var ptr = Indices(".crow_indices", rows + 1L);
                        var values = Tensor(".values", DType.Float32);
                        var nnz = values.Shape.Count == 1 ? values.Shape[0] : -1;
                        if (nnz < 0 || nnz > (long)rows * columns)
                            throw Bad($"tensor '{Printable.Escape(name)}.values' is {values}: a 1-D array of at most {(long)rows * columns} values");
                        var cols = Indices(".col_indices", nnz);
                        return new SparseWeight(name, [.. shape], new CsrMatrix(rows, columns, ptr, cols, values.GetData<float>()));
                    }
                case WeightFormat.NofM:
                    {
                        var (n, m) = (format.A, format.B);
                        var slots = (long)((columns + m - 1) / m) * n;
                        var values = Tensor(".values", DType.Float32, rows, slots);
                        var offsets = Tensor(".offsets", DType.UInt8, rows, slots);
                        return new SparseWeight(name, [.. shape], new NofMMatrix(rows, columns, n, m, values.GetData<float>(), offsets.GetData<byte>()));
                    }
                default:
                    {
                        var (r, c) = (format.A, format.B);
                        if (r > rows || c > columns)
                            throw Bad($"tiles {r}x{c} are larger than the {rows} × {columns} matrix");
                        var ptr = Indices(".crow_indices", ((rows + r - 1) / r) + 1L);
                        var values = Tensor(".values", DType.Float32);
                        var tiles = values.Shape.Count == 3 && values.Shape[1] == r && values.Shape[2] == c ? values.Shape[0] : -1;
                        var most = (long)((rows + r - 1) / r) * ((columns + c - 1) / c);
                        if (tiles < 0 || tiles > most)
                            throw Bad($"tensor '{Printable.Escape(name)}.values' is {values}: expected F32[tiles, {r}, {c}] with at most {most} tiles");
                        var cols = Indices(".col_indices", tiles);
                        return new SparseWeight(name, [.. shape], new BlockSparseMatrix(rows, columns, r, c, ptr, cols, values.GetData<float>()));
                    }
            }
        }
        catch (SparseArrayException ex)
        {
            var part = ex.ParamName switch
            {
                "rowPointers" => ".crow_indices",
                "columnIndices" or "blockColumns" => ".col_indices",
                "offsets" => ".offsets",
                _ => ".values",
            };
            var tname = name + part;
            var itemSize = file[tname].DType.ItemSize();
            var at = file.DataOffset(tname);
            var where = at < 0 ? $"entry {ex.Index}" : string.Create(CultureInfo.InvariantCulture, $"byte {at + (ex.Index * itemSize)} (entry {ex.Index})");
            throw new InvalidDataException($"{path}: tensor '{Printable.Escape(tname)}' at {where}: {ex.Reason}", ex);
        }
        catch (ArgumentException ex)
        {
            throw Bad(ex.Message);
        }
    }
}
