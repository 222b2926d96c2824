using System.Text.Json;
using System.Text.Json.Nodes;
using WoodFisher.Models;

namespace WoodFisher.Cli.Infrastructure;

/// <summary>
/// The layout JSON of a gradient file's columns, as <c>grads --layout</c> writes it: the model, rows, dimension and
/// mini-batch, and per tensor its name, shape, offset and length (in column order). Readers need only the tensors.
/// </summary>
internal static class GradientLayoutFile
{
    public static void Write(string path, string modelSpec, long rows, int minibatch, ParameterSelection<float> selection)
    {
        var layout = new
        {
            model = modelSpec,
            rows,
            dimension = selection.Dimension,
            minibatch,
            segments = selection.Entries.Select(e => new { name = e.Name, shape = e.Shape, offset = e.Offset, length = e.Length }).ToArray(),
        };
        CliFiles.WriteText(path, JsonSerializer.Serialize(layout, new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>The tensors' names in column order, or null when a tensor has none.</summary>
    public static string[]? ReadNames(string path)
    {
        var segments = JsonNode.Parse(File.ReadAllText(path))?["segments"]?.AsArray();
        var names = segments?.Select(s => s?["name"]?.GetValue<string>()).ToArray();
        return names is null || names.Any(n => n is null) ? null : [.. names.Select(n => n!)];
    }

    /// <summary>The tensors' lengths in column order (each offset must follow the previous tensor).</summary>
    public static int[] ReadLengths(string path)
    {
        try
        {
            var root = JsonNode.Parse(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path}: empty layout");
            var segments = root["segments"]?.AsArray() ?? throw new InvalidDataException($"{path}: no \"segments\" array (expected the layout grads --layout writes)");
            var lengths = new int[segments.Count];
            long offset = 0;
            for (var i = 0; i < lengths.Length; i++)
            {
                var s = segments[i] ?? throw new InvalidDataException($"{path}: segment {i} is null");
                lengths[i] = s["length"]?.GetValue<int>() ?? throw new InvalidDataException($"{path}: segment {i} has no length");
                var at = s["offset"]?.GetValue<long>() ?? offset;
                if (lengths[i] < 1 || at != offset)
                    throw new InvalidDataException($"{path}: segment {i} ({s["name"]}) has offset {at} and length {lengths[i]}; expected offset {offset} and a positive length");
                offset += lengths[i];
            }
            return lengths;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: not a layout JSON ({ex.Message})", ex);
        }
    }
}
