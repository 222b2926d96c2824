using System.Reflection;
using System.Runtime.Loader;

namespace WoodFisher.Bench;

/// <summary>
/// Loads WoodFisher.* and System.Numerics.Tensors from one build's folder, the rest from the host: two builds of the
/// library side by side in one process, for A/B timings in turns.
/// </summary>
internal sealed class BuildContext(string dir) : AssemblyLoadContext(isCollectible: false)
{
    protected override Assembly? Load(AssemblyName name)
    {
        var path = Path.GetFullPath(Path.Combine(dir, name.Name + ".dll"));
        return File.Exists(path) && (name.Name!.StartsWith("WoodFisher", StringComparison.Ordinal) || name.Name == "System.Numerics.Tensors")
            ? LoadFromAssemblyPath(path)
            : null;
    }
}
