using System.Numerics;
using WoodFisher.Kernels;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models;

/// <summary>
/// Dense curvature matrices of the mean softmax cross-entropy loss built from per-sample gradients over a data array,
/// restricted to a <see cref="ParameterSelection{T}"/>: the Gauss–Newton matrix (equal to the exact Fisher for this loss),
/// its Monte-Carlo estimate with labels sampled from the model (true Fisher), and the empirical Fisher with the true
/// labels. Each is [d, d] row-major float64, accumulated one Gram product (SYRK) per chunk of gradients.
/// </summary>
public static class FisherMatrices
{
    /// <summary>
    /// The Gauss–Newton matrix GN = (1/N)·Σₙ Jₙᵀ H_out,ₙ Jₙ [d, d] with H_out = diag(p) − ppᵀ the softmax cross-entropy
    /// Hessian in the logits. Built exactly from the factorisation diag(p) − ppᵀ = Σ_c p_c (e_c − p)(e_c − p)ᵀ:
    /// GN = (1/N)·Σₙ Σ_c p_{n,c} gₙ,c gₙ,cᵀ with gₙ,c = ∇θ ℓ(xₙ, c) (C per-sample passes). For softmax cross-entropy this is
    /// also the exact (expected) Fisher.
    /// </summary>
    public static double[] GaussNewton<T>(IModel<T> model, ReadOnlySpan<float> x, int count, ParameterSelection<T> selection)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var result = NewDense(selection.Dimension);
        var c = model.NumClasses;
        var probs = Probabilities(model, x, count);
        var labels = new int[x.Length / Batching.SampleSize(model)];
        for (var cls = 0; cls < c; cls++)
        {
            Array.Fill(labels, cls);
            var k = cls;
            AccumulateGrams(model, x, labels, count, selection, i => Math.Sqrt(probs[i * c + k]), result);
        }
        Scale(result, 1.0 / count);
        return result;
    }

    /// <summary>
    /// Monte-Carlo true Fisher F = (1/(N·S))·Σₙ Σₛ gₙ,ₛ gₙ,ₛᵀ [d, d], gₙ,ₛ = ∇θ ℓ(xₙ, ŷₙ,ₛ) with labels ŷ drawn from the
    /// model's own softmax (seeded), S draws per input. Converges to <see cref="GaussNewton{T}"/> as S grows.
    /// </summary>
    public static double[] TrueFisher<T>(IModel<T> model, ReadOnlySpan<float> x, int count, ParameterSelection<T> selection,
        int seed, int samplesPerInput = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var result = NewDense(selection.Dimension);
        var c = model.NumClasses;
        var probs = Probabilities(model, x, count);
        var rng = new Random(seed);
        var sampled = new int[count];
        for (var rep = 0; rep < samplesPerInput; rep++)
        {
            for (var i = 0; i < count; i++)
                sampled[i] = SampleCategorical(probs.AsSpan(i * c, c), rng);
            AccumulateGrams(model, x, sampled, count, selection, null, result);
        }
        Scale(result, 1.0 / ((double)count * samplesPerInput));
        return result;
    }

    /// <summary>Empirical Fisher (1/N)·Σₙ gₙgₙᵀ [d, d] with the true labels.</summary>
    public static double[] EmpiricalFisher<T>(IModel<T> model, ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int count,
        ParameterSelection<T> selection)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var result = NewDense(selection.Dimension);
        AccumulateGrams(model, x, labels, count, selection, null, result);
        Scale(result, 1.0 / count);
        return result;
    }

    /// <summary>Softmax probabilities [count, classes] as float64.</summary>
    public static double[] Probabilities<T>(IModel<T> model, ReadOnlySpan<float> x, int count)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var z = Evaluation.Logits(model, x, count);
        var c = model.NumClasses;
        var p = new T[z.Length];
        for (var i = 0; i < count; i++)
            Ops.SoftmaxRow<T>(z.AsSpan(i * c, c), p.AsSpan(i * c, c));
        return p.Select(double.CreateTruncating).ToArray();
    }

    internal static int SampleCategorical(ReadOnlySpan<double> p, Random rng)
    {
        var u = rng.NextDouble();
        double acc = 0;
        for (var k = 0; k < p.Length; k++)
        {
            acc += p[k];
            if (u < acc)
                return k;
        }
        return p.Length - 1;
    }

    private static double[] NewDense(int d)
    {
        LossHessian.EnsureDenseFits(d);
        return new double[(long)d * d];
    }

    /// <summary>result += Σₙ wₙ² gₙgₙᵀ over the per-sample gradients gₙ of the first count samples (wₙ = 1 without weights).</summary>
    private static void AccumulateGrams<T>(IModel<T> model, ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int count,
        ParameterSelection<T> selection, Func<int, double>? rowWeight, double[] result)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int Chunk = 128;
        var d = selection.Dimension;
        var g = new T[Math.Min(Chunk, count) * d];
        var gd = new double[(long)Math.Min(Chunk, count) * d];
        for (var s = 0; s < count; s += Chunk)
        {
            var n = Math.Min(Chunk, count - s);
            PerSampleGradients.Compute(model, x, labels, Enumerable.Range(s, n).ToArray(), n, selection, 1, g);
            for (var i = 0; i < n; i++)
            {
                var w = rowWeight?.Invoke(s + i) ?? 1.0;
                for (var j = 0; j < d; j++)
                    gd[(long)i * d + j] = w * double.CreateTruncating(g[i * d + j]);
            }
            LinearAlgebra.SymmetricRankK(true, d, n, 1.0, gd, d, 1.0, result, d);
        }
    }

    private static void Scale(double[] m, double s) => System.Numerics.Tensors.TensorPrimitives.Multiply(m, s, m);
}
