using WoodFisher.Pruning;

namespace WoodFisher.Cli.Infrastructure;

/// <summary>A CLI pruning method: the library's method plus the selection it implies (magnitude-layerwise).</summary>
internal sealed record CliMethod(string Name, PruningMethod Method, SelectionMode Selection)
{
    public const string Names = "woodfisher, woodtaylor, diagfisher, kfac, magnitude, magnitude-layerwise or exact";

    public static CliMethod Parse(string text, IReadOnlyCollection<string>? allowed = null)
    {
        var name = text.Trim().ToLowerInvariant();
        var m = name switch
        {
            "magnitude-layerwise" or "layerwise-magnitude" => new CliMethod("magnitude-layerwise", PruningMethod.Magnitude, SelectionMode.LayerwiseUniform),
            _ => TryParse(name),
        };
        if (m is null || (allowed is not null && !allowed.Contains(m.Name)))
            throw new ArgumentException($"unknown method '{text}'; expected {(allowed is null ? Names : string.Join(", ", allowed))}");
        return m;
    }

    private static CliMethod? TryParse(string name)
    {
        try
        {
            var method = PruningMethods.Parse(name);
            return new CliMethod(method == PruningMethod.ExactHessian ? "exact" : PruningMethods.Name(method), method, SelectionMode.Global);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }
}
