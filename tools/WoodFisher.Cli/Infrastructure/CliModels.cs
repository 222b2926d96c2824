using System.Numerics.Tensors;

namespace WoodFisher.Cli.Infrastructure;

/// <summary>Loading models and data for the verbs that take <c>--model</c>, <c>--arch</c>, <c>--data</c> and <c>--layers</c>, with one-line errors.</summary>
internal static class CliModels
{
    /// <summary>
    /// Loads a safetensors model (architecture from <paramref name="arch"/>, the file's metadata or its tensor names) and
    /// refuses one holding a NaN or infinite value: nothing computed from it would mean anything.
    /// </summary>
    public static IModel<float> Load(string? path, string? arch)
    {
        var file = VerbRun.Require(path, "--model", "a .safetensors model");
        CliFiles.RequireFile(file);
        return CheckFinite(ModelFiles.Load(file, string.IsNullOrWhiteSpace(arch) ? null : arch), file);
    }

    /// <summary>As <see cref="Load"/>, keeping the sparse matrices of a compressed file for the sparse inference engine.</summary>
    public static CompressedModel LoadCompressed(string? path, string? arch)
    {
        var file = VerbRun.Require(path, "--model", "a .safetensors model");
        CliFiles.RequireFile(file);
        var compressed = CompressedModelFiles.Load(file, string.IsNullOrWhiteSpace(arch) ? null : arch);
        CheckFinite(compressed.Model, file);
        return compressed;
    }

    private static IModel<float> CheckFinite(IModel<float> model, string file)
    {
        foreach (var p in model.Parameters)
        {
            // MaxMagnitude is NaN when any entry is NaN and infinite when any is: one vectorised pass per tensor.
            var m = p.Data.Length == 0 ? 0 : TensorPrimitives.MaxMagnitude<float>(p.Data);
            if (!float.IsFinite(m))
            {
                var at = Array.FindIndex(p.Data, v => !float.IsFinite(v));
                throw new InvalidDataException($"{file}: tensor {p.Name} holds {p.Data[at].ToString(CultureInfo.InvariantCulture)} at element {at}; a model with non-finite weights cannot be evaluated or pruned");
            }
        }
        return model;
    }

    /// <summary>Loads a data split ("train" or "test") from <paramref name="dir"/> or the default sources (see <see cref="DataSets.Load"/>).</summary>
    public static Dataset LoadData(string? dir, string split) =>
        DataSets.Load(string.IsNullOrWhiteSpace(dir) ? null : dir, VerbSettings.Read("--split", split, SampleSettings.ParseSplit));

    /// <summary>
    /// Starts <see cref="LoadData"/> on the thread pool and returns what waits for it: inflating and converting
    /// Fashion-MNIST's 60,000 training images takes about half a second on one core, which then overlaps loading the model
    /// and the test split. The split is read at once (a usage error comes before any work); the loader's own errors
    /// surface, unwrapped, from the returned function.
    /// </summary>
    public static Func<Dataset> LoadDataInBackground(string? dir, string split)
    {
        var parsed = VerbSettings.Read("--split", split, SampleSettings.ParseSplit);
        var task = Task.Run(() => DataSets.Load(string.IsNullOrWhiteSpace(dir) ? null : dir, parsed));
        return () => task.GetAwaiter().GetResult();
    }

    /// <summary>
    /// As <see cref="LoadDataInBackground"/>, but for a job that reads only the first <paramref name="count"/> examples
    /// (<see cref="DataSets.LoadHead"/>): they are ready as soon as they are inflated, and the rest of the split is read
    /// and checked meanwhile. The caller waits for <see cref="DatasetHead.WaitVerified"/> before it writes anything.
    /// </summary>
    public static Func<DatasetHead> LoadHeadInBackground(string? dir, string split, int count)
    {
        var parsed = VerbSettings.Read("--split", split, SampleSettings.ParseSplit);
        var task = Task.Factory.StartNew(() => DataSets.LoadHead(string.IsNullOrWhiteSpace(dir) ? null : dir, parsed, count),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return () => task.GetAwaiter().GetResult();
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
            throw new InvalidDataException(
                $"model {model.Spec} takes inputs [{string.Join('x', model.InputShape)}] ({per} values) but {data.Name} has {data.FeatureShape} samples ({data.Features} values); use e.g. {fit}");
        }
        var classes = data.Labels.Length == 0 ? 0 : data.Labels.Max() + 1;
        if (classes > model.NumClasses)
            throw new InvalidDataException($"model {model.Spec} has {model.NumClasses} outputs but {data.Name} has labels up to {classes - 1}");
    }

    /// <summary>The first <paramref name="count"/> samples of <paramref name="data"/>, or all when null; an error names the option when too many are asked for.</summary>
    public static Dataset Take(Dataset data, int? count, string option)
    {
        if (count is null)
            return data;
        if (count > data.Count)
            throw new UsageException($"{option} {count}: {data.Name} holds only {data.Count} samples");
        return count == data.Count ? data : data.Take(count.Value);
    }

    /// <summary>
    /// Refuses more samples than <paramref name="data"/> holds for <c>--samples</c> (a smaller estimate would be reported as
    /// a larger one), and a count that is not a whole number of <c>--minibatch</c> groups.
    /// </summary>
    public static void CheckSamples(int samples, Dataset data, int minibatch = 1)
    {
        if (samples % minibatch != 0)
            throw new UsageException($"--samples {samples} is not a multiple of --minibatch {minibatch}");
        if (samples > data.Count)
            throw new UsageException($"--samples {samples}: {data.Name} holds only {data.Count} samples; pass --samples {data.Count} or fewer");
    }

    /// <summary>
    /// The parameters named by <c>--layers</c>: a layer name (<c>fc1</c>) selects its weight (and bias with
    /// <paramref name="includeBias"/>), a parameter name (<c>fc1.weight</c>) just that; null = every Linear/Conv2d weight.
    /// </summary>
    public static ParameterSelection<float> Select(IModel<float> model, string? layers, bool includeBias)
    {
        if (string.IsNullOrWhiteSpace(layers))
            return ParameterSelection<float>.Prunable(model, includeBias);
        var names = new List<string>();
        foreach (var raw in layers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (model.Parameters.Any(p => p.Name == raw))
            {
                names.Add(raw);
                continue;
            }
            var weight = model.Parameters.FirstOrDefault(p => p.Name == raw + ".weight" && p.IsPrunable)
                ?? throw new UsageException(
                    $"--layers: model {model.Spec} has no layer '{raw}'; its layers are {string.Join(", ", model.Parameters.Where(p => p.IsPrunable).Select(p => p.Name[..^".weight".Length]))}");
            names.Add(weight.Name);
            if (includeBias && model.Parameters.Any(p => p.Name == raw + ".bias"))
                names.Add(raw + ".bias");
        }
        if (names.Count == 0)
            throw new UsageException("--layers names no layer");
        return ParameterSelection<float>.ByNames(model, names);
    }

    /// <summary>The selection's tensors as one line: <c>fc2.weight 800, fc3.weight 200</c>.</summary>
    public static string Sizes(ParameterSelection<float> selection) =>
        string.Join(", ", selection.Entries.Select(e => $"{e.Name} {e.Length}"));
}
