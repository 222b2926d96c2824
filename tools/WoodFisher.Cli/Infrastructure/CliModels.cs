using WoodFisher.Models;
using WoodFisher.Models.Data;

namespace WoodFisher.Cli.Infrastructure;

/// <summary>Loading models and data for the commands that take <c>--model</c>, <c>--arch</c> and <c>--data</c>, with one-line errors.</summary>
internal static class CliModels
{
    /// <summary>Loads a safetensors model; the architecture comes from <paramref name="arch"/>, the file's metadata or its tensor names.</summary>
    public static IModel<float> Load(string? path, string? arch)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new ArgumentException("--model is required");
        CliFiles.RequireFile(path);
        return ModelFiles.Load(path, string.IsNullOrWhiteSpace(arch) ? null : arch);
    }

    /// <summary>Loads a data split ("train" or "test") from <paramref name="dir"/> or the default sources (see <see cref="DataSets.Load"/>).</summary>
    public static Dataset LoadData(string? dir, string split)
    {
        if (split is not ("train" or "test"))
            throw new ArgumentException($"--split must be train or test, not '{split}'");
        return DataSets.Load(string.IsNullOrWhiteSpace(dir) ? null : dir, split);
    }

    /// <summary>Checks that <paramref name="model"/> takes <paramref name="data"/>'s samples (784 features for an MLP, 1x28x28 for a CNN).</summary>
    public static void CheckFits(IModel<float> model, Dataset data)
    {
        var per = 1;
        foreach (var s in model.InputShape)
            per *= s;
        if (per != data.Features)
        {
            var kind = model.Spec.Split(':')[0];
            var fit = kind == "mlp" ? $"mlp:{data.Features}-300-100-10" : $"{kind}:{data.FeatureShape}";
            throw new ArgumentException(
                $"model {model.Spec} takes inputs [{string.Join('x', model.InputShape)}] ({per} values) but {data.Name} has {data.FeatureShape} samples ({data.Features} values); use e.g. {fit}");
        }
        var classes = data.Labels.Length == 0 ? 0 : data.Labels.Max() + 1;
        if (classes > model.NumClasses)
            throw new ArgumentException($"model {model.Spec} has {model.NumClasses} outputs but {data.Name} has labels up to {classes - 1}");
    }

    /// <summary>The first <paramref name="count"/> samples of <paramref name="data"/>, or all when null; an error names the option when too many are asked for.</summary>
    public static Dataset Take(Dataset data, int? count, string option)
    {
        if (count is null)
            return data;
        if (count <= 0)
            throw new ArgumentException($"{option} must be positive, not {count}");
        if (count > data.Count)
            throw new ArgumentException($"{option} {count}: {data.Name} holds only {data.Count} samples");
        return count == data.Count ? data : data.Take(count.Value);
    }
}
