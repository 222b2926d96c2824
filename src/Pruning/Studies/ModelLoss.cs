using WoodFisher.Models;

namespace WoodFisher.Pruning.Studies;

/// <summary>
/// The mean cross-entropy of a model over fixed samples as a function of the selected parameters, evaluated in float64:
/// the model is copied into a float64 twin (same spec, same state), so loss differences of single-weight removals are not
/// lost to float32 rounding. The original model is never modified.
/// </summary>
public sealed class ModelLoss : ILossEvaluator
{
    private readonly IModel<double> _model;
    private readonly ParameterSelection<double> _selection;
    private readonly float[] _x;
    private readonly int[] _labels;

    /// <summary>Copies <paramref name="model"/> to float64 and selects the parameters named in <paramref name="selection"/>.</summary>
    /// <param name="model">A model built by <see cref="ModelFactory"/> (its <see cref="IModel{T}.Spec"/> rebuilds it).</param>
    /// <param name="selection">The coordinates w.</param>
    /// <param name="x">Inputs [n, features].</param>
    /// <param name="labels">Labels [n].</param>
    public ModelLoss(IModel<float> model, ParameterSelection<float> selection, float[] x, int[] labels)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(selection);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(labels);
        _model = ModelFactory.Create<double>(model.Spec);
        _model.LoadStateDict(model.StateDict());
        _selection = ParameterSelection<double>.ByNames(_model, selection.Entries.Select(e => e.Name));
        if (_selection.Dimension != selection.Dimension)
        {
            throw new InvalidOperationException($"The float64 copy of {model.Spec} selects {_selection.Dimension} coordinates, expected {selection.Dimension}.");
        }

        _x = x;
        _labels = labels;
    }

    /// <inheritdoc />
    public int Dimension => _selection.Dimension;

    /// <summary>Samples the loss averages over.</summary>
    public int Count => _labels.Length;

    /// <inheritdoc />
    public double Loss(ReadOnlySpan<double> weights)
    {
        _selection.Scatter(weights);
        return Evaluation.Evaluate(_model, _x, _labels, _labels.Length).Loss;
    }

    /// <summary>∇L(w) (length d, float64) at <paramref name="weights"/>.</summary>
    public double[] Gradient(ReadOnlySpan<double> weights)
    {
        _selection.Scatter(weights);
        return LossGradient.Mean(_model, _x, _labels, _labels.Length, _selection);
    }
}
