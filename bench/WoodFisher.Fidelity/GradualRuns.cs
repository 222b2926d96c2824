using System.Diagnostics;
using System.Globalization;
using WoodFisher.Models;
using WoodFisher.Models.Data;
using WoodFisher.Models.Training;
using WoodFisher.Pruning;

namespace WoodFisher.Fidelity;

/// <summary>What a gradual run varies beyond the method, the target and the epochs.</summary>
/// <param name="Seed">Seed of the fine-tuning's shuffles (0: the first run's; each seed gets its own row).</param>
/// <param name="Update">The OBS weight update of each pruning step (joint: the library's default).</param>
/// <param name="ResetMomentum">Clear SGD's momentum after each pruning step (the weights it was built on have moved).</param>
/// <param name="FreshSamples">Draw each step's Fisher and calibration samples anew (seeded by the step) instead of the first ones.</param>
/// <param name="MiniBatch">Samples averaged per gradient row (1: per-sample rows; B: 1,000 rows from 1,000·B samples).</param>
/// <param name="Every">k epochs of fine-tuning between pruning steps (the same steps and targets; k·E epochs in all).</param>
/// <param name="Recompute">OBS recompute steps K within each pruning step (the curvature re-estimated before each).</param>
/// <param name="Rows">Gradient rows of each estimate (0: the driver's --samples).</param>
internal sealed record GradualVariant(int Seed = 0, UpdateMode Update = UpdateMode.Joint, bool ResetMomentum = false, bool FreshSamples = false, int MiniBatch = 1, int Every = 1, int Recompute = 1, int Rows = 0)
{
    /// <summary>The setting's tail after "E=.. c=.. λ=auto": empty for the plain run; the seed last.</summary>
    public string Suffix =>
        (Update != UpdateMode.Joint ? $" update={Vocabulary.Name(Update)}" : "")
        + (FreshSamples ? " samples=fresh" : "")
        + (MiniBatch != 1 ? $" minibatch={MiniBatch}" : "")
        + (Every != 1 ? $" every={Every}" : "")
        + (Recompute != 1 ? $" recompute={Recompute}" : "")
        + (Rows != 0 ? $" rows={Rows}" : "")
        + (Seed != 0 ? $" seed={Seed}" : "")
        + (ResetMomentum ? " momentum reset" : "");
}

/// <summary>
/// Gradual pruning with fine-tuning (the paper's setting): the cubic schedule from 0 to s over the first E − 2 epochs,
/// one pruning step per epoch (per k epochs with <see cref="GradualVariant.Every"/>), SGD (momentum 0.9, lr 0.01, batch 128) with the masks held by the optimizer, the same
/// for every method. Each run's test accuracy after every pruning step and every epoch goes to gradual-curves.csv.
/// The rows' part is "gradual" (scored on the test set) or "gradual-val" (scored on a held-out split of the training set).
/// </summary>
internal sealed class GradualRuns(string name, string dir, Dataset train, Dataset test, Results results, int samples, string curvesPath, string part = "gradual")
{
    /// <param name="method">magnitude or woodfisher.</param>
    /// <param name="s">Final sparsity.</param>
    /// <param name="epochs">E.</param>
    /// <param name="block">WoodFisher block size.</param>
    /// <param name="variant">Seed, update, momentum, Fisher samples.</param>
    public void Run(string method, double s, int epochs, int block, GradualVariant variant)
    {
        var setting = $"E={variant.Every * epochs} c={Vocabulary.BlockText(block)} λ=auto" + variant.Suffix;
        if (results.Has(new Row(name, part, method, s, setting, 0, 0, 0, 0, 0, 0).Key))
        {
            return;
        }

        var model = ModelFiles.Load(Path.Combine(dir, name + ".safetensors"));
        var pm = PruningMethod.Find(method);
        var selection = ParameterSelection<float>.Prunable(model);
        var rows = variant.Rows > 0 ? variant.Rows : samples;
        var spec = new EstimatorSpec { Method = pm, BlockSize = block, Samples = rows * variant.MiniBatch, MiniBatch = variant.MiniBatch };
        var curve = new Curve(curvesPath, $"{name},{method},{F(s)},{setting}");
        var host = new Host(model, selection, train, test, pm, spec, variant, curve);
        var schedule = new PolynomialSchedule(0, s, 0, variant.Every * Math.Max(0, epochs - 2), variant.Every);
        var sw = Stopwatch.StartNew();
        var steps = new GradualPruner(schedule, new PrunerOptions { Method = pm, Segments = selection.Segments, Update = variant.Update }, variant.Every * epochs) { RecomputeSteps = variant.Recompute }.Run(host);
        var e = Evaluation.Evaluate(model, test.Images, test.Labels, test.Count);
        var lambda = steps[^1].Result.Steps[^1].Damping?.Chosen ?? double.NaN;
        Console.WriteLine($"  λ per step: {string.Join(", ", steps.Select(st => (st.Result.Steps[^1].Damping?.Chosen ?? double.NaN).ToString("g1", CultureInfo.InvariantCulture)))}");
        results.Add(new Row(name, part, method, s, setting, lambda, double.NaN, double.NaN, e.Accuracy, e.Loss, sw.Elapsed.TotalSeconds));
    }

    private static string F(double v) => v.ToString("g6", CultureInfo.InvariantCulture);

    /// <summary>Appends (epoch, phase, sparsity, test accuracy, test loss) points of one run.</summary>
    private sealed class Curve(string path, string prefix)
    {
        public void Add(int epoch, string phase, double sparsity, EvaluationResult e, string layers)
        {
            if (!File.Exists(path))
            {
                File.WriteAllText(path, "model,method,target,setting,epoch,phase,sparsity,accuracy,loss,layer_sparsity\n");
            }

            File.AppendAllText(path, $"{prefix},{epoch},{phase},{F(sparsity)},{F(e.Accuracy)},{F(e.Loss)},{layers}\n");
        }
    }

    private sealed class Host(IModel<float> model, ParameterSelection<float> selection, Dataset train, Dataset test, PruningMethod method, EstimatorSpec spec, GradualVariant variant, Curve curve) : IGradualPruningHost
    {
        private readonly ModelCurvature _curvature = new(model, selection, train.Images, train.Labels) { Resample = variant.FreshSamples };
        private readonly ParameterMasks _masks = new();
        private readonly Sgd<float> _sgd = new(model.Parameters, 0.9);
        private int _epoch;
        private double _sparsity;
        private string _layers = "";

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
            for (var i = 0; variant.ResetMomentum && i < model.Parameters.Count; i++)
            {
                Array.Clear(_sgd.Velocity(i));
            }

            _sparsity = 1 - ((double)mask.Count(k => k) / mask.Length);
            // Per layer, the fraction pruned: "fc1/fc2/fc3" (the layer-wise allocation the global threshold made).
            _layers = string.Join('/', selection.Entries.Select(e => (1 - ((double)mask.AsSpan(e.Offset, e.Length).Count(true) / e.Length)).ToString("0.###", CultureInfo.InvariantCulture)));
            curve.Add(_epoch, "pruned", _sparsity, Evaluation.Evaluate(model, test.Images, test.Labels, test.Count), _layers);
        }

        public CurvatureSample ComputeCurvature(double[] weights, bool[] mask) =>
            method == PruningMethod.Magnitude ? new CurvatureEstimate(new IdentityCurvature(weights.Length))
            : _curvature.Factory(variant.FreshSamples ? spec with { Seed = variant.Seed } : spec)(weights, mask);

        public void FineTune(int epochs)
        {
            for (var i = 0; i < epochs; i++, _epoch++)
            {
                var options = new TrainerOptions { Epochs = 1, BatchSize = 128, Schedule = LearningRateSchedule.Constant(0.01), Seed = (1000 * variant.Seed) + _epoch, Masks = _masks };
                Trainer.Train(model, _sgd, train.Images, train.Labels, train.Count, options);
                curve.Add(_epoch + 1, "tuned", _sparsity, Evaluation.Evaluate(model, test.Images, test.Labels, test.Count), _layers);
            }
        }
    }
}
