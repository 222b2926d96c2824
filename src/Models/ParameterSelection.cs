using System.Numerics;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models;

/// <summary>One selected parameter: its name, shape, and where its flattened (row-major) values sit in a gradient row.</summary>
/// <param name="Name">PyTorch name, e.g. <c>fc1.weight</c>.</param>
/// <param name="Shape">Shape, e.g. [out, in].</param>
/// <param name="Offset">First coordinate in the row.</param>
/// <param name="Length">Number of coordinates.</param>
/// <param name="IsPrunable">True for Linear/Conv2d weights.</param>
public readonly record struct SelectedParameter(string Name, int[] Shape, int Offset, int Length, bool IsPrunable);

/// <summary>
/// An ordered subset of a model's parameters defining the coordinates of gradient rows, HVPs and dense curvature matrices:
/// each selected parameter flattened row-major, concatenated in model order (a layer's weight, then its bias when
/// selected). The default (<see cref="Prunable"/>) takes Linear/Conv2d weights only.
/// </summary>
/// <typeparam name="T">Element type.</typeparam>
public sealed class ParameterSelection<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Dictionary<Parameter<T>, int> _offsets = new(ReferenceEqualityComparer.Instance);

    private ParameterSelection(IEnumerable<Parameter<T>> parameters)
    {
        var list = new List<Parameter<T>>();
        var entries = new List<SelectedParameter>();
        var off = 0;
        foreach (var p in parameters)
        {
            list.Add(p);
            _offsets[p] = off;
            entries.Add(new SelectedParameter(p.Name, (int[])p.Shape.Clone(), off, p.Length, p.IsPrunable));
            off = checked(off + p.Length);
        }
        if (list.Count == 0)
            throw new ArgumentException("The selection is empty.");
        Parameters = list;
        Entries = entries;
        Dimension = off;
    }

    /// <summary>The selected parameters in row order.</summary>
    public IReadOnlyList<Parameter<T>> Parameters { get; }

    /// <summary>Names, shapes and offsets, in row order: how to map a gradient row back to parameters.</summary>
    public IReadOnlyList<SelectedParameter> Entries { get; }

    /// <summary>Total coordinates d.</summary>
    public int Dimension { get; }

    /// <summary>Lengths of the selected parameters (the <see cref="IGradientSource.Segments"/>).</summary>
    public int[] Segments => Entries.Select(e => e.Length).ToArray();

    /// <summary>Linear/Conv2d weights (and their biases when <paramref name="includeBiases"/>), in model order.</summary>
    public static ParameterSelection<T> Prunable(IModel<T> model, bool includeBiases = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new(model.Parameters.Where(p => p.IsPrunable || (includeBiases && p.WeightOfLayer is not null)));
    }

    /// <summary>Every trainable parameter (BatchNorm γ/β included), in model order.</summary>
    public static ParameterSelection<T> All(IModel<T> model) => new(model.Parameters);

    /// <summary>The named parameters, in model order.</summary>
    /// <exception cref="KeyNotFoundException">A name is not a parameter of the model.</exception>
    public static ParameterSelection<T> ByNames(IModel<T> model, IEnumerable<string> names)
    {
        var set = names.ToHashSet(StringComparer.Ordinal);
        foreach (var n in set)
        {
            if (!model.Parameters.Any(p => p.Name == n))
                throw new KeyNotFoundException($"Model {model.Spec} has no parameter '{n}'; it has {string.Join(", ", model.Parameters.Select(p => p.Name))}.");
        }
        return new(model.Parameters.Where(p => set.Contains(p.Name)));
    }

    /// <summary>Offset of <paramref name="p"/> in a row, or −1 when not selected.</summary>
    public int OffsetOf(Parameter<T> p) => _offsets.TryGetValue(p, out var o) ? o : -1;

    /// <summary>Copies the selected parameter values into <paramref name="destination"/> [d].</summary>
    public void Gather(Span<T> destination)
    {
        foreach (var p in Parameters)
            p.Data.CopyTo(destination.Slice(_offsets[p], p.Length));
    }

    /// <summary>Writes <paramref name="source"/> [d] into the selected parameters.</summary>
    public void Scatter(ReadOnlySpan<T> source)
    {
        foreach (var p in Parameters)
            source.Slice(_offsets[p], p.Length).CopyTo(p.Data);
    }
}
