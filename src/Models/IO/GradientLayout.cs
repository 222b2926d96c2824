using System.Text;
using System.Text.Json;

namespace WoodFisher.IO;

/// <summary>One tensor's columns in a gradient file: a tensor's gradient flattened in C order.</summary>
/// <param name="Name">The tensor's name in the model file, e.g. <c>conv1.weight</c>.</param>
/// <param name="Shape">The tensor's shape, e.g. [out, in, kh, kw].</param>
/// <param name="Offset">First column of G that belongs to the tensor.</param>
/// <param name="Length">Columns it spans: the product of <paramref name="Shape"/>.</param>
public sealed record GradientLayoutTensor(string Name, IReadOnlyList<int> Shape, int Offset, int Length);

/// <summary>
/// The layout of a gradient file G (rows × d): which model tensor each column belongs to. Written by
/// <c>woodfisher grads --layout</c> and read by <c>prune</c>, <c>fisher</c> and <c>ihvp</c>; a PyTorch or JAX user
/// writes the same JSON next to their own G:
/// <code>
/// {"rows": 512, "minibatch": 1, "dimension": 4608,
///  "segments": [{"name": "conv1.weight", "shape": [8, 1, 3, 3], "offset": 0, "length": 72}, ...]}
/// </code>
/// <c>segments</c> is required: each entry's <c>length</c> is the product of its <c>shape</c> and the entries tile
/// [0, d) without gaps or overlaps, in increasing offset order. <c>dimension</c>, <c>rows</c> (rows of G),
/// <c>minibatch</c> (samples averaged per row) and <c>model</c> (a label) are optional; other keys are ignored.
/// </summary>
public sealed class GradientLayout
{
    /// <summary>Largest layout file read (a layout of a million tensors is about 100 MB).</summary>
    public const long MaxFileBytes = 256L << 20;

    private readonly Dictionary<string, GradientLayoutTensor> _byName = new(StringComparer.Ordinal);

    /// <summary>Creates a layout and checks it: unique non-empty names, positive dimensions, length = product of the
    /// shape, entries tiling [0, d) in order.</summary>
    /// <param name="tensors">The tensors in column order.</param>
    /// <param name="rows">Rows of G, when known.</param>
    /// <param name="minibatch">Samples averaged per row, when known.</param>
    /// <param name="model">A label of the model (e.g. its architecture), when known.</param>
    /// <exception cref="ArgumentException">The entries are inconsistent; the message names the entry.</exception>
    public GradientLayout(IReadOnlyList<GradientLayoutTensor> tensors, long? rows = null, int? minibatch = null, string? model = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (Check(tensors, rows, minibatch, _byName, out var dimension) is { } problem)
        {
            throw new ArgumentException(problem, nameof(tensors));
        }

        Tensors = [.. tensors];
        Dimension = dimension;
        Rows = rows;
        MiniBatch = minibatch;
        Model = model;
    }

    /// <summary>The tensors in column order.</summary>
    public IReadOnlyList<GradientLayoutTensor> Tensors { get; }

    /// <summary>Columns d of G: the sum of the tensors' lengths.</summary>
    public int Dimension { get; }

    /// <summary>Rows of G, when the layout states them.</summary>
    public long? Rows { get; }

    /// <summary>Samples averaged per row of G, when the layout states it.</summary>
    public int? MiniBatch { get; }

    /// <summary>A label of the model, when the layout states one.</summary>
    public string? Model { get; }

    /// <summary>The tensors' lengths in column order: the segments (layers) of a flat weight vector; blocks restart at each.</summary>
    public int[] Segments => [.. Tensors.Select(t => t.Length)];

    /// <summary>The tensors' names in column order.</summary>
    public string[] Names => [.. Tensors.Select(t => t.Name)];

    /// <summary>The tensor called <paramref name="name"/>, or null.</summary>
    public GradientLayoutTensor? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>Reads a layout JSON file.</summary>
    /// <exception cref="InvalidDataException">The file is not a valid layout; the message names the file and the entry.</exception>
    public static GradientLayout Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new FileNotFoundException($"{path}: no such file", path);
        }

        if (info.Length > MaxFileBytes)
        {
            throw new InvalidDataException($"{path}: {info.Length} bytes is larger than the {MaxFileBytes}-byte limit of a layout file");
        }

        string text;
        try
        {
            text = File.ReadAllText(path, new UTF8Encoding(false, true));
        }
        catch (DecoderFallbackException ex)
        {
            throw new InvalidDataException($"{path}: not UTF-8 text", ex);
        }

        return Parse(text, path);
    }

    /// <summary>Parses layout JSON; <paramref name="source"/> names it in messages.</summary>
    /// <exception cref="InvalidDataException">The text is not a valid layout.</exception>
    public static GradientLayout Parse(string json, string source = "layout")
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{source}: not valid JSON: {ex.Message}", ex);
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{source}: expected a JSON object with a \"segments\" array");
            }

            if (!root.TryGetProperty("segments", out var segments) || segments.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidDataException($"{source}: missing the \"segments\" array (one {{\"name\", \"shape\", \"offset\", \"length\"}} per tensor)");
            }

            var tensors = new List<GradientLayoutTensor>(segments.GetArrayLength());
            var index = 0;
            foreach (var e in segments.EnumerateArray())
            {
                tensors.Add(ParseTensor(e, source, index++));
            }

            var rows = OptionalInteger(root, "rows", source, long.MaxValue);
            var minibatch = OptionalInteger(root, "minibatch", source, int.MaxValue);
            var dimension = OptionalInteger(root, "dimension", source, long.MaxValue);
            string? model = root.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
            if (Check(tensors, rows, minibatch is null ? null : (int)minibatch, new(StringComparer.Ordinal), out _) is { } problem)
            {
                throw new InvalidDataException($"{source}: {problem}");
            }

            var layout = new GradientLayout(tensors, rows, minibatch is null ? null : (int)minibatch, model);
            if (dimension is { } dim && dim != layout.Dimension)
            {
                throw new InvalidDataException($"{source}: \"dimension\" is {dim} but the segments span {layout.Dimension} columns");
            }

            return layout;
        }
    }

    /// <summary>The layout as indented JSON (the format <see cref="Parse"/> reads).</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            if (Model is not null)
            {
                w.WriteString("model", Model);
            }

            if (Rows is { } rows)
            {
                w.WriteNumber("rows", rows);
            }

            w.WriteNumber("dimension", Dimension);
            if (MiniBatch is { } b)
            {
                w.WriteNumber("minibatch", b);
            }

            w.WriteStartArray("segments");
            foreach (var t in Tensors)
            {
                w.WriteStartObject();
                w.WriteString("name", t.Name);
                w.WriteStartArray("shape");
                foreach (var dim in t.Shape)
                {
                    w.WriteNumberValue(dim);
                }

                w.WriteEndArray();
                w.WriteNumber("offset", t.Offset);
                w.WriteNumber("length", t.Length);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/> atomically.</summary>
    public void Write(string path) => AtomicFile.WriteAllText(path, ToJson());

    /// <summary>Checks that a gradient file with <paramref name="rows"/> × <paramref name="columns"/> entries matches this layout.</summary>
    /// <exception cref="ArgumentException">The column count differs from <see cref="Dimension"/>, or the rows from <see cref="Rows"/>.</exception>
    public void CheckGradients(long rows, long columns, string gradients = "G")
    {
        if (columns != Dimension)
        {
            throw new ArgumentException($"{gradients} has {columns} columns but the layout's tensors span d = {Dimension}");
        }

        if (Rows is { } expected && expected != rows)
        {
            throw new ArgumentException($"{gradients} has {rows} rows but the layout says rows = {expected}");
        }
    }

    /// <summary>"[8, 1, 3, 3]".</summary>
    public static string FormatShape(IEnumerable<int> shape) => "[" + string.Join(", ", shape) + "]";

    private static GradientLayoutTensor ParseTensor(JsonElement e, string source, int index)
    {
        var where = $"{source}: segments[{index}]";
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"{where} is not an object");
        }

        if (!e.TryGetProperty("name", out var n) || n.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(n.GetString()))
        {
            throw new InvalidDataException($"{where}: missing a non-empty string \"name\"");
        }

        var name = n.GetString()!;
        where = $"{where} ('{name}')";
        if (!e.TryGetProperty("shape", out var s) || s.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException($"{where}: missing the \"shape\" array");
        }

        var shape = new List<int>();
        foreach (var dim in s.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt32(out var v) || v < 1)
            {
                throw new InvalidDataException($"{where}: shape entries must be positive integers below 2^31, got {dim.GetRawText()}");
            }

            shape.Add(v);
        }

        var offset = RequiredInteger(e, "offset", where);
        var length = RequiredInteger(e, "length", where);
        return new GradientLayoutTensor(name, shape, offset, length);
    }

    private static int RequiredInteger(JsonElement e, string key, string where)
    {
        if (!e.TryGetProperty(key, out var v) || v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out var i) || i < 0)
        {
            throw new InvalidDataException($"{where}: \"{key}\" must be a non-negative integer below 2^31");
        }

        return i;
    }

    private static long? OptionalInteger(JsonElement root, string key, string source, long max)
    {
        if (!root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out var i) || i < 0 || i > max)
        {
            throw new InvalidDataException($"{source}: \"{key}\" must be a non-negative integer, got {v.GetRawText()}");
        }

        return i;
    }

    /// <summary>The first problem with the entries, or null; fills <paramref name="byName"/> and the dimension.</summary>
    private static string? Check(IReadOnlyList<GradientLayoutTensor> tensors, long? rows, int? minibatch, Dictionary<string, GradientLayoutTensor> byName, out int dimension)
    {
        dimension = 0;
        if (tensors.Count == 0)
        {
            return "a gradient layout needs at least one tensor";
        }

        if (rows is < 0)
        {
            return $"rows must be non-negative, got {rows}";
        }

        if (minibatch is < 1)
        {
            return $"minibatch must be at least 1, got {minibatch}";
        }

        long next = 0;
        foreach (var t in tensors)
        {
            if (t is null || string.IsNullOrEmpty(t.Name))
            {
                return $"the tensor at column {next} has no name";
            }

            if (!byName.TryAdd(t.Name, t))
            {
                return $"tensor '{t.Name}' appears twice";
            }

            long product = 1;
            foreach (var dim in t.Shape)
            {
                if (dim < 1)
                {
                    return $"tensor '{t.Name}' has shape {FormatShape(t.Shape)}: dimensions must be positive";
                }

                product *= dim;
                if (product > int.MaxValue)
                {
                    return $"tensor '{t.Name}' has shape {FormatShape(t.Shape)}: more than 2^31 - 1 values";
                }
            }

            if (product != t.Length)
            {
                return $"tensor '{t.Name}' has shape {FormatShape(t.Shape)} ({product} values) but length {t.Length}";
            }

            if (t.Offset != next)
            {
                return t.Offset < next
                    ? $"tensor '{t.Name}' starts at column {t.Offset}, inside the previous tensor (which ends at {next}); list tensors in column order without overlaps"
                    : $"tensor '{t.Name}' starts at column {t.Offset} but the previous tensor ends at {next}: columns [{next}, {t.Offset}) belong to no tensor";
            }

            next += t.Length;
            if (next > Array.MaxLength)
            {
                return $"the layout spans more than {Array.MaxLength} columns (at tensor '{t.Name}')";
            }
        }

        dimension = (int)next;
        return null;
    }
}
