// WoodFisher quick start: per-sample gradients → inverse Fisher → OBS scores → global selection → joint update,
// first step by step, then with Pruner, then as a user of any framework would: from model.safetensors, G.npy and G.json.
using WoodFisher.IO;
using WoodFisher.Kernels;
using WoodFisher.Models;
using WoodFisher.Models.Data;
using WoodFisher.Models.Training;
using WoodFisher.Pruning;

// A small MLP trained for two epochs on the Fashion-MNIST slice embedded in WoodFisher.Models (2,000 / 1,000 images).
var train = DataSets.LoadEmbedded("train");
var test = DataSets.LoadEmbedded("test");
var model = ModelFactory.Create("mlp:784-32-10", seed: 1);
Trainer.Train(model, train.Images, train.Labels, train.Count, new TrainerOptions { Epochs = 2, BatchSize = 64, Seed = 1 });
var dense = Evaluation.Evaluate(model, test.Images, test.Labels, test.Count);

// 1. Gradients: one row per training sample over the Linear weights (d = 784·32 + 32·10), computed chunk by chunk.
var selection = ParameterSelection<float>.Prunable(model);
var gradients = new PerSampleGradientSource(model, train.Images, train.Labels, count: 256, selection);

// 2. Inverse: block-diagonal F̂⁻¹ of F̂ = λI + (1/N) Σₙ gₙgₙᵀ, blocks of c = 128 coordinates restarting at each layer.
var options = new WoodFisherOptions { BlockSize = 128, Damping = 1e-4 };
using var inverse = WoodFisherCurvature.FromGradients(gradients, options);

// 3. Scores ρ_q = w_q² / (2[F̂⁻¹]_qq): the loss increase of removing w_q alone, comparable across layers.
var w = new float[selection.Dimension];
selection.Gather(w);
double[] before = Array.ConvertAll(w, v => (double)v);
double[] weights = (double[])before.Clone();
double[] scores = ObsScore.Compute(weights, inverse);

// 4. Selection: one global threshold prunes 90% of all weights; masks are true = kept, false = pruned.
bool[] mask = MaskSelection.Select(scores, default, sparsity: 0.9, SelectionMode.Global, selection.Segments);

// 5. Joint OBS update in each block: δw = −F̂⁻¹E_Q([F̂⁻¹]_QQ)⁻¹w_Q; the pruned weights end exactly at 0.
ObsWeightUpdate.Apply(UpdateMode.Joint, inverse, weights, mask);

// Steps 3–5 in one call, on the same inverse.
var result = new Pruner(new PrunerOptions { Sparsity = 0.9, Segments = selection.Segments }).Prune(before, inverse);

// The same from files, as for a model trained elsewhere: weights by tensor name, G's columns described by a layout.
var dir = Directory.CreateTempSubdirectory("woodfisher-quickstart-").FullName;
ModelFiles.Save(model, Path.Combine(dir, "model.safetensors"));
using (var writer = new NpyWriter(Path.Combine(dir, "G.npy"), selection.Dimension))
{
    var rows = new float[16 * selection.Dimension];
    gradients.Reset();
    for (int n; (n = gradients.Read(rows, 16)) > 0;)
    {
        writer.WriteRows(rows.AsSpan(0, n * selection.Dimension));
    }

    writer.Commit();
}

var layout = new GradientLayout([.. selection.Entries.Select(e => new GradientLayoutTensor(e.Name, e.Shape, e.Offset, e.Length))], rows: 256);
layout.Write(Path.Combine(dir, "G.json"));
LayoutPruningResult fromFiles;
using (var g = new NpyGradientSource(Path.Combine(dir, "G.npy"), layout.Segments))
{
    fromFiles = LayoutPruning.Prune(SafeTensors.Read(Path.Combine(dir, "model.safetensors")), GradientLayout.Read(Path.Combine(dir, "G.json")),
        g, new PrunerOptions { Sparsity = 0.9 }, new EstimatorSpec { BlockSize = 128, Damping = 1e-4 });
}

SafeTensors.Write(Path.Combine(dir, "pruned.safetensors"), fromFiles.Model);
Directory.Delete(dir, recursive: true);

selection.Scatter(Array.ConvertAll(weights, v => (float)v));
var pruned = Evaluation.Evaluate(model, test.Images, test.Labels, test.Count);
Console.WriteLine($"d = {selection.Dimension} weights, {mask.Count(k => !k)} pruned ({MaskSelection.Sparsity(mask):P1})");
foreach (var layer in fromFiles.Report.Layers)
{
    Console.WriteLine($"  {layer.Name,-12} {layer.Size,6} weights, sparsity {layer.Sparsity:P1}");
}

Console.WriteLine($"test accuracy {dense.Accuracy:P2} dense -> {pruned.Accuracy:P2} pruned");
// G.npy's rows were computed 16 at a time, the in-memory ones a panel at a time: float32 gradients that differ in the
// last bits, so the weights from files agree to about 1e-5 rather than exactly.
var agree = result.Mask.SequenceEqual(mask) && result.Weights.SequenceEqual(weights)
    && fromFiles.Result.Mask.SequenceEqual(mask) && fromFiles.Result.Weights.Zip(weights).All(p => Math.Abs(p.First - p.Second) <= 1e-4);
Console.WriteLine(agree ? "step by step, Pruner and LayoutPruning agree" : "MISMATCH between step by step, Pruner and LayoutPruning");
return agree ? 0 : 1;
