using WoodFisher.IO;
using WoodFisher.Kernels;

namespace WoodFisher.Models;

/// <summary>
/// Saves and loads float32 models as safetensors: one F32 tensor per parameter and buffer under its PyTorch name and layout
/// (<c>fc1.weight</c> is [out, in]; BatchNorm's <c>num_batches_tracked</c> is I64, as PyTorch writes it), and the model's
/// spec in <c>__metadata__</c> under <see cref="ArchKey"/>. A file written by PyTorch (<c>safetensors.torch.save_file</c>)
/// loads as long as the architecture is known.
/// </summary>
public static class ModelFiles
{
    /// <summary>The <c>__metadata__</c> key holding the model spec (e.g. <c>mlp:784-300-100-10</c>).</summary>
    public const string ArchKey = "woodfisher.arch";

    /// <summary>Writes <paramref name="model"/>'s state dict to <paramref name="path"/> atomically.</summary>
    /// <param name="model">The model; its <see cref="IModel{T}.Spec"/> is stored as <see cref="ArchKey"/>.</param>
    /// <param name="path">Target file (replaced if present; parent directories are created).</param>
    /// <param name="metadata">Extra string metadata (e.g. training settings); <see cref="ArchKey"/> and <c>format</c> are set here.</param>
    public static void Save(IModel<float> model, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var (tensors, meta) = Contents(model, metadata);
        SafeTensors.Write(path, tensors, meta);
    }

    /// <summary>The tensors and metadata <see cref="Save"/> writes.</summary>
    internal static (List<NamedArray> Tensors, Dictionary<string, string> Metadata) Contents(IModel<float> model, IReadOnlyDictionary<string, string>? metadata)
    {
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        if (metadata is not null)
        {
            foreach (var (k, v) in metadata)
                meta[k] = v;
        }
        meta["format"] = "pt";
        meta[ArchKey] = model.Spec;
        var tensors = new List<NamedArray>();
        foreach (var (name, (shape, data)) in model.StateDict())
        {
            var dims = Array.ConvertAll(shape, d => (long)d);
            var array = name.EndsWith("num_batches_tracked", StringComparison.Ordinal)
                ? NdArray.Create(Array.ConvertAll(data, v => (long)v))
                : NdArray.Create(data);
            tensors.Add(new NamedArray(name, array.Shape.SequenceEqual(dims) ? array : array.Reshape(dims)));
        }
        return (tensors, meta);
    }

    /// <summary>
    /// Loads a model from a safetensors file. The architecture is <paramref name="arch"/> when given, else the file's
    /// <see cref="ArchKey"/> metadata, else recognised from the tensor names and shapes (an <c>fc1, fc2, …</c> MLP).
    /// Every tensor is converted to float32; names and shapes must match the architecture exactly.
    /// </summary>
    /// <param name="path">A .safetensors file.</param>
    /// <param name="arch">Model spec (see <see cref="ModelFactory"/>), or null to take it from the file.</param>
    /// <returns>The model in eval mode.</returns>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is corrupt, its architecture cannot be told, or a tensor is missing,
    /// extra or of the wrong shape (the message names the file and the tensor).</exception>
    /// <exception cref="FormatException">The spec is not a known architecture.</exception>
    public static IModel<float> Load(string path, string? arch = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such file", path);
        return Load(SparseTensors.Expand(SafeTensors.Read(path), path), path, arch);
    }

    /// <summary>
    /// <see cref="Load(string, string?)"/> on a file already read: every check that needs no model (shapes, the
    /// architecture's parameter count against the values present, the memory budget) comes before the model is built.
    /// </summary>
    internal static IModel<float> Load(SafeTensorsFile file, string path, string? arch)
    {
        long values = 0;
        foreach (var t in file.Tensors)
        {
            if (t.Array.Shape.Any(d => d is 0 or > int.MaxValue))
            {
                throw new InvalidDataException(
                    $"{path}: tensor '{Printable.Escape(t.Name)}' has shape ({string.Join(", ", t.Array.Shape)}): a model tensor needs every dimension between 1 and 2³¹−1");
            }
            values += t.Array.Length;
        }

        arch ??= file.Metadata.TryGetValue(ArchKey, out var stored) && !string.IsNullOrWhiteSpace(stored) ? stored : null;
        if (arch is not null)
        {
            long needed;
            try
            {
                needed = ModelFactory.ParameterCount(arch);
            }
            catch (FormatException ex)
            {
                throw new FormatException($"{path}: unknown architecture '{Printable.Escape(arch)}' ({ex.Message}); use mlp:784-300-100-10[:nobias], lenet5[:CxHxW], cifarnet[:CxHxW] or resnet20[:CxHxW]", ex);
            }
            // A small model is built anyway, so that LoadStateDict can name the tensor that does not fit; a large one that the
            // file cannot possibly fill is refused here, before its memory is spent.
            if (needed > values && needed > 1 << 22)
                throw new InvalidDataException($"{path} does not fit {Printable.Escape(arch)}: the architecture has {needed:N0} parameters but the file holds {values:N0} values");
        }

        MemoryBudget.Require(MemoryBudget.Product(values, sizeof(float)), $"{path}: the float32 copy of its {file.Tensors.Count} tensors");
        var state = new NamedTensors();
        foreach (var t in file.Tensors)
            state.Add(t.Name, (t.Array.ShapeInt32(), t.Array.ToFloat32()));

        IModel<float> model;
        if (arch is null)
        {
            try
            {
                model = ModelFactory.FromStateDict(state);
            }
            catch (NotSupportedException ex)
            {
                throw new InvalidDataException(
                    $"cannot tell the architecture of {path}: pass --arch (no '{ArchKey}' metadata, and not an MLP state dict: {ex.Message})", ex);
            }
            catch (ArgumentException ex)
            {
                throw new InvalidDataException($"{path}: {Printable.Escape(Plain(ex))}", ex);
            }
        }
        else
        {
            model = CreateModel(arch);
            try
            {
                model.LoadStateDict(state);
            }
            catch (Exception ex) when (ex is ArgumentException or KeyNotFoundException)
            {
                throw new InvalidDataException($"{path} does not fit {Printable.Escape(arch)}: {Printable.Escape(Plain(ex))}", ex);
            }
        }
        model.Training = false;
        return model;
    }

    /// <summary>
    /// <see cref="ModelFactory.Create(string, int)"/> with one clear message for any malformed spec
    /// (<c>mlp:784-x-10</c> fails inside a number parse, whose own message does not name the spec).
    /// </summary>
    /// <exception cref="FormatException">Not a spec of a known architecture.</exception>
    public static IModel<float> CreateModel(string arch, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(arch);
        try
        {
            return ModelFactory.Create(arch, seed);
        }
        catch (FormatException ex) when (ex.Message.Contains($"'{arch}'", StringComparison.Ordinal))
        {
            throw;
        }
        catch (Exception ex) when (ex is FormatException or OverflowException or ArgumentException)
        {
            throw new FormatException(
                $"unknown architecture '{arch}' ({Plain(ex)}); use mlp:784-300-100-10[:nobias], lenet5[:CxHxW], cifarnet[:CxHxW], resnet20[:CxHxW] or cnn:C1-C2[:bn]", ex);
        }
    }

    private static string Plain(Exception ex) =>
        ex is ArgumentException { ParamName: { } p } ? ex.Message.Replace($" (Parameter '{p}')", "", StringComparison.Ordinal) : ex.Message;
}
