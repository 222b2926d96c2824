using System.Numerics;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models.Training;

/// <summary>
/// Pruning masks by parameter name: keep[i] = false pins element i (row-major) at exactly zero. Applied to the weights and
/// the optimizer's momentum buffers after every step, so a pruned weight never comes back.
/// </summary>
public sealed class ParameterMasks
{
    private readonly Dictionary<string, bool[]> _keep = new(StringComparer.Ordinal);

    /// <summary>Names with a mask.</summary>
    public IEnumerable<string> Names => _keep.Keys;

    /// <summary>Sets the mask of <paramref name="name"/> (length = the parameter's element count).</summary>
    public void Set(string name, bool[] keep) => _keep[name] = keep;

    /// <summary>The mask of <paramref name="name"/>, or null.</summary>
    public bool[]? Get(string name) => _keep.TryGetValue(name, out var k) ? k : null;

    /// <summary>Masks holding the current zeros of the prunable weights (keep = value ≠ 0).</summary>
    public static ParameterMasks FromZeros<T>(IModel<T> model) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var m = new ParameterMasks();
        foreach (var p in model.Parameters.Where(p => p.IsPrunable))
            m.Set(p.Name, p.Data.Select(v => v != T.Zero).ToArray());
        return m;
    }

    /// <summary>Zeroes the masked entries of <paramref name="values"/> for parameter <paramref name="name"/>.</summary>
    public void Apply<T>(string name, Span<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!_keep.TryGetValue(name, out var keep))
            return;
        if (keep.Length != values.Length)
            throw new ArgumentException($"Mask of '{name}' has {keep.Length} entries; the parameter has {values.Length}.");
        for (var i = 0; i < keep.Length; i++)
        {
            if (!keep[i])
                values[i] = T.Zero;
        }
    }

    /// <summary>Zeroes the masked weights of every masked parameter of <paramref name="model"/>.</summary>
    public void Apply<T>(IModel<T> model) where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var p in model.Parameters)
            Apply<T>(p.Name, p.Data);
    }

    /// <summary>Fraction of masked (zero) entries over all masks.</summary>
    public double Sparsity()
    {
        long total = 0, zero = 0;
        foreach (var k in _keep.Values)
        {
            total += k.Length;
            zero += k.Count(b => !b);
        }
        return total == 0 ? 0 : (double)zero / total;
    }
}
