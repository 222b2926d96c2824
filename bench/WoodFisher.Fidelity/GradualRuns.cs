using System.Diagnostics;
using WoodFisher.Models;
using WoodFisher.Models.Data;
using WoodFisher.Models.Training;
using WoodFisher.Pruning;

namespace WoodFisher.Fidelity;

/// <summary>
/// Gradual pruning with fine-tuning (the paper's setting): the cubic schedule from 0 to s over the first E − 2 epochs,
/// one pruning step per epoch, SGD (momentum 0.9, lr 0.01, batch 128) with the masks held by the optimizer, the same
/// for every method.
/// </summary>
internal sealed class GradualRuns(string name, string dir, Dataset train, Dataset test, Results results, int samples)
{
    /// <param name="method">magnitude or woodfisher.</param>
    /// <param name="s">Final sparsity.</param>
    /// <param name="epochs">E.</param>
    /// <param name="block">WoodFisher block size.</param>
    /// <param name="seed">Seed of the fine-tuning's shuffles (0: the first run's; each seed gets its own row).</param>
    /// <param name="resetMomentum">Clear SGD's momentum after each pruning step (the weights it was built on have moved).</param>
    /// <param name="update">The OBS weight update of each pruning step (joint: the library's default).</param>
    public void Run(string method, double s, int epochs, int block, int seed = 0, bool resetMomentum = false, UpdateMode update = UpdateMode.Joint)
    {
        var setting = $"E={epochs} c={Vocabulary.BlockText(block)} λ=auto" + (update != UpdateMode.Joint ? $" update={Vocabulary.Name(update)}" : "") + (seed != 0 ? $" seed={seed}" : "") + (resetMomentum ? " momentum reset" : "");
        if (results.Has(new Row(name, "gradual", method, s, setting, 0, 0, 0, 0, 0, 0).Key))
        {
            return;
        }

        var model = ModelFiles.Load(Path.Combine(dir, name + ".safetensors"));
        var pm = PruningMethod.Find(method);
        var selection = ParameterSelection<float>.Prunable(model);
        var host = new Host(model, selection, train, pm, new EstimatorSpec { Method = pm, BlockSize = block, Samples = samples }, seed, resetMomentum);
        var schedule = new PolynomialSchedule(0, s, 0, Math.Max(0, epochs - 2), 1);
        var sw = Stopwatch.StartNew();
        var steps = new GradualPruner(schedule, new PrunerOptions { Method = pm, Segments = selection.Segments, Update = update }, epochs).Run(host);
        var e = Evaluation.Evaluate(model, test.Images, test.Labels, test.Count);
        var lambda = steps[^1].Result.Steps[^1].Damping?.Chosen ?? double.NaN;
        results.Add(new Row(name, "gradual", method, s, setting, lambda, double.NaN, double.NaN, e.Accuracy, e.Loss, sw.Elapsed.TotalSeconds));
    }

    private sealed class Host(IModel<float> model, ParameterSelection<float> selection, Dataset train, PruningMethod method, EstimatorSpec spec, int seed, bool resetMomentum) : IGradualPruningHost
    {
        private readonly ModelCurvature _curvature = new(model, selection, train.Images, train.Labels);
        private readonly ParameterMasks _masks = new();
        private readonly Sgd<float> _sgd = new(model.Parameters, 0.9);
        private int _epoch;

        public double[] GetWeights() => _curvature.GetWeights();

        public void SetWeights(double[] weights) => _curvature.SetWeights(weights);

        public void SetMask(bool[] mask)
        {
            foreach (var e in selection.Entries)
            {
                _masks.Set(e.Name, mask.AsSpan(e.Offset, e.Length).ToArray());
            }

            _masks.Apply(model);
            _sgd.Apply(_masks);
            for (var i = 0; resetMomentum && i < model.Parameters.Count; i++)
            {
                Array.Clear(_sgd.Velocity(i));
            }
        }

        public CurvatureSample ComputeCurvature(double[] weights, bool[] mask) =>
            method == PruningMethod.Magnitude ? new CurvatureEstimate(new IdentityCurvature(weights.Length)) : _curvature.Factory(spec)(weights, mask);

        public void FineTune(int epochs)
        {
            for (var i = 0; i < epochs; i++, _epoch++)
            {
                var options = new TrainerOptions { Epochs = 1, BatchSize = 128, Schedule = LearningRateSchedule.Constant(0.01), Seed = (1000 * seed) + _epoch, Masks = _masks };
                Trainer.Train(model, _sgd, train.Images, train.Labels, train.Count, options);
            }
        }
    }
}
