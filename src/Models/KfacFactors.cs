using System.Numerics;
using WoodFisher.Kernels;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models;

/// <summary>
/// K-FAC factors of one layer, float64, for F_layer ≈ G ⊗ A in the row-major vec convention of the weight [out, in]
/// (F[(o,i),(o',i')] ≈ G[o,o']·A[i,i']); with a bias, the layer's parameter is [W | b] ([out, in+1]) and A has a trailing 1.
/// </summary>
/// <param name="WeightName">The weight's name (e.g. <c>fc1.weight</c>).</param>
/// <param name="BiasName">The bias's name, or null when the bias is not modelled.</param>
/// <param name="A">Input factor [DimA, DimA] = E[ā āᵀ] (Conv2d: mean over positions of unfolded patches).</param>
/// <param name="DimA">in (+1 with bias); Conv2d: in·kh·kw (+1).</param>
/// <param name="G">Output-gradient factor [DimG, DimG] = E[δ δᵀ] (Conv2d: summed over positions).</param>
/// <param name="DimG">out.</param>
public sealed record KfacLayerFactors(string WeightName, string? BiasName, double[] A, int DimA, double[] G, int DimG);

/// <summary>
/// K-FAC factors (Martens &amp; Grosse 2015; KFC for convolutions, Grosse &amp; Martens 2016) over a data array, from one
/// batched backward per chunk: A = (1/N)·Σₙ āₙāₙᵀ of the layer inputs, G = (1/N)·Σₙ δₙδₙᵀ of the per-sample gradients
/// with respect to the pre-activation outputs. Labels are the empirical ones given (pass labels sampled from the model for
/// the true-Fisher variant, see <see cref="SampleLabels{T}"/>). Model in eval mode.
/// </summary>
public static class KfacFactors
{
    /// <summary>Factors for every Linear and Conv2d layer, in model order.</summary>
    /// <param name="model">The model.</param>
    /// <param name="x">Inputs [samples, …InputShape].</param>
    /// <param name="labels">Labels used for δ (empirical Fisher flavour).</param>
    /// <param name="count">Samples N.</param>
    /// <param name="includeBias">Model the bias as a trailing 1 in ā (only for layers that have a bias).</param>
    /// <param name="batchSize">Samples per pass.</param>
    public static IReadOnlyList<KfacLayerFactors> Compute<T>(IModel<T> model, ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int count,
        bool includeBias = true, int batchSize = 256)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Batching.Check(model, x, labels, count);
        var obs = new Collector<T>(includeBias);
        var was = model.Training;
        model.Training = false;
        try
        {
            for (var s = 0; s < count; s += batchSize)
            {
                var n = Math.Min(batchSize, count - s);
                var tape = new Tape<T> { Observer = obs, ObserverOnly = true };
                var loss = Ops.SoftmaxCrossEntropy(tape, model.Forward(tape, Batching.Slice(model, x, s, n)), labels.Slice(s, n), T.One);
                tape.Backward(loss);
            }
        }
        finally
        {
            model.Training = was;
        }
        var result = new List<KfacLayerFactors>();
        foreach (var p in model.Parameters)
        {
            if (!obs.Layers.TryGetValue(p.Name, out var f))
                continue;
            System.Numerics.Tensors.TensorPrimitives.Multiply(f.A, 1.0 / count, f.A);
            System.Numerics.Tensors.TensorPrimitives.Multiply(f.G, 1.0 / count, f.G);
            result.Add(new KfacLayerFactors(p.Name, f.Bias, f.A, f.DimA, f.G, f.DimG));
        }
        return result;
    }

    /// <summary>One label per sample drawn from the model's softmax (seeded): for true-Fisher K-FAC factors.</summary>
    public static int[] SampleLabels<T>(IModel<T> model, ReadOnlySpan<float> x, int count, int seed)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var p = FisherMatrices.Probabilities(model, x, count);
        var c = model.NumClasses;
        var rng = new Random(seed);
        var r = new int[count];
        for (var i = 0; i < count; i++)
            r[i] = FisherMatrices.SampleCategorical(p.AsSpan(i * c, c), rng);
        return r;
    }

    private sealed class Factors(string? bias, int dimA, int dimG)
    {
        public string? Bias { get; } = bias;
        public int DimA { get; } = dimA;
        public int DimG { get; } = dimG;
        public double[] A { get; } = new double[dimA * dimA];
        public double[] G { get; } = new double[dimG * dimG];
    }

    private sealed class Collector<T>(bool includeBias) : IBackwardObserver<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Dictionary<string, Factors> Layers { get; } = [];

        public void OnLinear(Parameter<T> weight, Parameter<T>? bias, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, int n, int inF, int outF)
        {
            var withBias = includeBias && bias is not null;
            var f = Get(weight, withBias ? bias : null, inF + (withBias ? 1 : 0), outF);
            var a = new double[n * f.DimA];
            for (var i = 0; i < n; i++)
            {
                for (var j = 0; j < inF; j++)
                    a[i * f.DimA + j] = double.CreateTruncating(input[i * inF + j]);
                if (withBias)
                    a[i * f.DimA + inF] = 1;
            }
            var g = ToDouble(outputGrad[..(n * outF)]);
            LinearAlgebra.SymmetricRankK(true, f.DimA, n, 1.0, a, f.DimA, 1.0, f.A, f.DimA);
            LinearAlgebra.SymmetricRankK(true, outF, n, 1.0, g, outF, 1.0, f.G, outF);
        }

        public void OnConv(Parameter<T> weight, Parameter<T>? bias, Conv2dGeometry geometry, ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, int n)
        {
            // Per image, ā ranges over the L unfolded patches (with a trailing 1 for the bias) and δ over the L output
            // gradients: A += (1/L)·Ā Āᵀ and G += Δ Δᵀ over a run's Ā [DimA, run·L] and Δ [O, run·L], one SYRK each.
            var withBias = includeBias && bias is not null;
            int k = geometry.Patch, l = geometry.Positions, outC = weight.Dim(0);
            var f = Get(weight, withBias ? bias : null, k + (withBias ? 1 : 0), outC);
            var run = geometry.RunLength(n, outC);
            var u = new T[k * run * l];
            var a = new double[f.DimA * run * l];
            var g = new double[outC * run * l];
            for (var i0 = 0; i0 < n; i0 += run)
            {
                var cnt = Math.Min(run, n - i0);
                var cols = cnt * l;
                geometry.Unfold(input[(i0 * geometry.InputSize)..], cnt, u);
                for (var r = 0; r < k; r++)
                    for (var t = 0; t < cols; t++)
                        a[r * cols + t] = double.CreateTruncating(u[r * cols + t]);
                if (withBias)
                    a.AsSpan(k * cols, cols).Fill(1);
                for (var i = 0; i < cnt; i++)
                    for (var o = 0; o < outC; o++)
                        for (var t = 0; t < l; t++)
                            g[o * cols + i * l + t] = double.CreateTruncating(outputGrad[((i0 + i) * outC + o) * l + t]);
                LinearAlgebra.SymmetricRankK(false, f.DimA, cols, 1.0 / l, a, cols, 1.0, f.A, f.DimA);
                LinearAlgebra.SymmetricRankK(false, outC, cols, 1.0, g, cols, 1.0, f.G, outC);
            }
        }

        private static double[] ToDouble(ReadOnlySpan<T> v)
        {
            var r = new double[v.Length];
            for (var i = 0; i < r.Length; i++)
                r[i] = double.CreateTruncating(v[i]);
            return r;
        }

        private Factors Get(Parameter<T> weight, Parameter<T>? bias, int dimA, int dimG)
        {
            if (!Layers.TryGetValue(weight.Name, out var f))
            {
                f = new Factors(bias?.Name, dimA, dimG);
                Layers[weight.Name] = f;
            }
            return f;
        }
    }
}
