using WoodFisher.IO;
using WoodFisher.Models;

namespace WoodFisher.Cli.Infrastructure;

// TODO(integrator): replace with ModelFiles once merged (cli-models adds ModelFiles.Save/Load with the same metadata key).

/// <summary>
/// Minimal model files for prune/gradual/demo: a safetensors state dict (PyTorch names, float32) with the model spec in
/// metadata <c>woodfisher.arch</c>. Loading builds the model from <c>--arch</c>, else from that metadata, else recognises an
/// MLP from its tensor names.
/// </summary>
internal static class PruneModelIO
{
    public const string ArchKey = "woodfisher.arch";

    public static IModel<float> Load(string path, string? arch = null)
    {
        CliFiles.RequireFile(path);
        var file = SafeTensors.Read(path);
        var state = new NamedTensors();
        foreach (var t in file.Tensors)
            state[t.Name] = (t.Array.ShapeInt32(), t.Array.ToFloat32());
        var spec = arch ?? (file.Metadata.TryGetValue(ArchKey, out var a) ? a : null);
        if (spec is null)
            return ModelFactory.FromStateDict(state);
        var model = ModelFactory.Create(spec);
        try
        {
            model.LoadStateDict(state);
        }
        catch (Exception ex) when (ex is ArgumentException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path}: does not hold a {spec} model ({ex.Message})", ex);
        }
        return model;
    }

    public static void Save(IModel<float> model, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var meta = new Dictionary<string, string> { ["format"] = "pt", [ArchKey] = model.Spec };
        if (metadata is not null)
        {
            foreach (var (k, v) in metadata)
                meta[k] = v;
        }
        var tensors = model.StateDict().Select(kv => new NamedArray(kv.Key, NdArray.Create(kv.Value.Data, kv.Value.Shape.Select(s => (long)s).ToArray())));
        SafeTensors.Write(path, tensors.ToList(), meta);
    }
}
