using WoodFisher.IO;
using WoodFisher.Kernels.Sparse;
using WoodFisher.Models.Inference;

namespace WoodFisher.Models;

/// <summary>A model read from a compressed file: the model (every weight expanded to dense) and the stored sparse matrices.</summary>
public sealed class CompressedModel
{
    internal CompressedModel(IModel<float> model, IReadOnlyList<SparseWeight> weights, long fileBytes)
    {
        Model = model;
        Weights = weights;
        FileBytes = fileBytes;
    }

    /// <summary>The model with dense weights (in eval mode): what <see cref="ModelFiles.Load(string, string?)"/> returns for the file.</summary>
    public IModel<float> Model { get; }

    /// <summary>The weights stored sparse, as read.</summary>
    public IReadOnlyList<SparseWeight> Weights { get; }

    /// <summary>Size of the file.</summary>
    public long FileBytes { get; }

    /// <summary>
    /// The inference engine: <see cref="InferenceEngine.Sparse"/> folds hidden units with all-zero incoming weights into the
    /// next layer's bias (see <see cref="InferenceModel.Create(IModel{float}, Func{string, float[], int, int, IWeightMatrix}, int, bool)"/>),
    /// runs the stored matrices as they are where that left their shape, and every other weight in its smallest format
    /// (<see cref="WeightFormats.Compress"/>, as for a plain file); <see cref="InferenceEngine.Dense"/> runs every weight dense.
    /// </summary>
    public InferenceModel CreateEngine(InferenceEngine engine = InferenceEngine.Sparse, int maxBatch = 128)
    {
        if (engine == InferenceEngine.Dense)
            return InferenceModel.Create(Model, InferenceEngine.Dense, maxBatch);
        var stored = Weights.ToDictionary(w => w.Name, w => w.Matrix, StringComparer.Ordinal);
        return InferenceModel.Create(Model, (name, dense, rows, columns) => SparseWeight(stored, name, dense, rows, columns), maxBatch, foldConstantUnits: true);
    }

    /// <summary>
    /// The matrix the sparse engine runs for weight <paramref name="name"/> at <paramref name="rows"/> × <paramref name="columns"/>:
    /// the stored one where folding left its shape, else <paramref name="dense"/> in its smallest format.
    /// </summary>
    internal static IWeightMatrix SparseWeight(IReadOnlyDictionary<string, IWeightMatrix> stored, string name, float[] dense, int rows, int columns) =>
        stored.TryGetValue(name, out var m) && m.Rows == rows && m.Columns == columns ? m : WeightFormats.Compress(dense, rows, columns);
}

/// <summary>
/// Compressed models: safetensors files whose Linear and Conv2d weights are stored sparse (CSR, N:M or block, see
/// <see cref="SparseTensors"/>) beside the other tensors and the spec (<see cref="ModelFiles.ArchKey"/>).
/// <see cref="ModelFiles.Load(string, string?)"/> loads them too (expanding every weight), so every verb takes them.
/// </summary>
public static class CompressedModelFiles
{
    /// <summary>
    /// Writes <paramref name="model"/> with each Linear and Conv2d weight in the format <paramref name="formats"/> returns
    /// (given the name, the dense values and the matrix shape; default: the fewest stored bytes,
    /// <see cref="WeightFormats.Compress"/>). Returns the weights as written.
    /// </summary>
    public static IReadOnlyList<SparseWeight> Save(IModel<float> model, string path, Func<string, float[], int, int, IWeightMatrix>? formats = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        formats ??= (_, dense, rows, columns) => WeightFormats.Compress(dense, rows, columns);
        var (tensors, metadata) = ModelFiles.Contents(model, null);
        var written = new List<SparseWeight>();
        foreach (var p in model.Parameters.Where(p => p.IsPrunable))
        {
            var rows = p.Shape[0];
            var matrix = formats(p.Name, p.ToFloats(), rows, p.Length / rows);
            written.Add(new SparseWeight(p.Name, Array.ConvertAll(p.Shape, d => (long)d), matrix));
            if (matrix.Format == WeightFormat.Dense)
                continue;
            var at = tensors.FindIndex(t => t.Name == p.Name);
            tensors.RemoveAt(at);
            tensors.InsertRange(at, SparseTensors.ToTensors(p.Name, matrix));
        }
        metadata[SparseTensors.MetadataKey] = SparseTensors.Describe(written);
        SafeTensors.Write(path, tensors, metadata);
        return written;
    }

    /// <summary>Reads a compressed (or plain) model file; see <see cref="ModelFiles.Load(string, string?)"/> for <paramref name="arch"/>.</summary>
    /// <exception cref="InvalidDataException">The file is corrupt (the message names the file, the tensor and, for a bad entry, its byte offset).</exception>
    public static CompressedModel Load(string path, string? arch = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such file", path);
        var file = SafeTensors.Read(path);
        var sparse = SparseTensors.Read(file, path);
        var model = ModelFiles.Load(SparseTensors.Expand(file, path), path, arch);
        foreach (var w in sparse)
        {
            var p = model.Parameters.FirstOrDefault(q => q.Name == w.Name && q.IsPrunable)
                ?? throw new InvalidDataException($"{path}: sparse weight '{Printable.Escape(w.Name)}' is not a Linear or Conv2d weight of {model.Spec}");
            if (!p.Shape.Select(d => (long)d).SequenceEqual(w.Shape))
                throw new InvalidDataException($"{path}: sparse weight '{Printable.Escape(w.Name)}' has shape [{string.Join(", ", w.Shape)}], the model expects [{string.Join(", ", p.Shape)}]");
        }
        return new CompressedModel(model, sparse, new FileInfo(path).Length);
    }
}
