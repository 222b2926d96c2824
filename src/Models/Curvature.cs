using System.Numerics;
using WoodFisher.Kernels;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models;

/// <summary>
/// Exact first- and second-order quantities of the mean loss L(θ) = (1/N)·Σₙ ℓ(f(xₙ; θ), yₙ) (softmax cross-entropy) over a
/// data array, restricted to a <see cref="ParameterSelection{T}"/>. The model runs in eval mode. Hessian-vector products
/// use Pearlmutter's R-operator (forward-over-reverse, exact to rounding) for Linear, Conv2d, ReLU, max/avg pooling,
/// eval-mode BatchNorm, residual add, reshape and the loss.
/// </summary>
public static class Curvature
{
    /// <summary>∇L [d] over the selection, for the first <paramref name="count"/> samples.</summary>
    public static T[] MeanGradient<T>(IModel<T> model, ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int count,
        ParameterSelection<T> selection, int batchSize = 512)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Batching.Check(model, x, labels, count);
        var r = new T[selection.Dimension];
        var was = model.Training;
        model.Training = false;
        try
        {
            var scale = T.One / T.CreateTruncating(count);
            for (var s = 0; s < count; s += batchSize)
            {
                var n = Math.Min(batchSize, count - s);
                var tape = new Tape<T>();
                var loss = Ops.SoftmaxCrossEntropy(tape, model.Forward(tape, Batching.Slice(model, x, s, n)), labels.Slice(s, n), scale);
                tape.Backward(loss);
                foreach (var p in selection.Parameters)
                    Ops.Accumulate<T>(r.AsSpan(selection.OffsetOf(p), p.Length), tape.Grad(p));
            }
        }
        finally
        {
            model.Training = was;
        }
        return r;
    }

    /// <summary>
    /// Exact Hessian-vector product H v of the mean loss, H = ∂²L/∂θ_S², with v and the result over the selection S [d]
    /// (the other parameters held fixed).
    /// </summary>
    public static void HessianVectorProduct<T>(IModel<T> model, ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int count,
        ParameterSelection<T> selection, ReadOnlySpan<T> v, Span<T> result, int batchSize = 512)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Batching.Check(model, x, labels, count);
        var d = selection.Dimension;
        if (v.Length != d || result.Length < d)
            throw new ArgumentException($"v and the result need {d} entries (the selection's dimension).");
        result[..d].Clear();
        var was = model.Training;
        model.Training = false;
        try
        {
            var scale = T.One / T.CreateTruncating(count);
            for (var s = 0; s < count; s += batchSize)
            {
                var n = Math.Min(batchSize, count - s);
                var tape = new Tape<T> { ForwardOverReverse = true };
                foreach (var p in selection.Parameters)
                    tape.SetTangent(p, v.Slice(selection.OffsetOf(p), p.Length).ToArray());
                var loss = Ops.SoftmaxCrossEntropy(tape, model.Forward(tape, Batching.Slice(model, x, s, n)), labels.Slice(s, n), scale);
                tape.Backward(loss);
                foreach (var p in selection.Parameters)
                {
                    var rg = tape.GradTangentOrNull(p);
                    if (rg is not null)
                        Ops.Accumulate<T>(result.Slice(selection.OffsetOf(p), p.Length), rg);
                }
            }
        }
        finally
        {
            model.Training = was;
        }
    }

    /// <summary>
    /// The exact dense Hessian H [d, d] (row-major, float64) of the mean loss over the selection, column j = H eⱼ by one HVP
    /// each (d passes over the data). Not symmetrised: asymmetry measures rounding.
    /// </summary>
    /// <exception cref="InsufficientMemoryException">d²·8 bytes exceed the memory available to the process.</exception>
    /// <param name="model">The model.</param>
    /// <param name="x">Inputs [samples, …InputShape].</param>
    /// <param name="labels">Labels [samples].</param>
    /// <param name="count">Samples N in the mean loss.</param>
    /// <param name="selection">The coordinates of H.</param>
    /// <param name="batchSize">Samples per HVP pass.</param>
    /// <param name="columnsDone">Reported with the number of columns finished after each one (d in all).</param>
    public static double[] Hessian<T>(IModel<T> model, ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int count,
        ParameterSelection<T> selection, int batchSize = 512, IProgress<int>? columnsDone = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = selection.Dimension;
        var h = AllocateDense(d);
        var e = new T[d];
        var col = new T[d];
        for (var j = 0; j < d; j++)
        {
            e[j] = T.One;
            HessianVectorProduct(model, x, labels, count, selection, e, col, batchSize);
            e[j] = T.Zero;
            for (var i = 0; i < d; i++)
                h[(long)i * d + j] = double.CreateTruncating(col[i]);
            columnsDone?.Report(j + 1);
        }
        return h;
    }

    /// <summary>
    /// The Gauss–Newton matrix GN = (1/N)·Σₙ Jₙᵀ H_out,ₙ Jₙ [d, d] with H_out = diag(p) − ppᵀ the softmax cross-entropy
    /// Hessian in the logits. Built exactly from the factorisation diag(p) − ppᵀ = Σ_c p_c (e_c − p)(e_c − p)ᵀ:
    /// GN = (1/N)·Σₙ Σ_c p_{n,c} gₙ,c gₙ,cᵀ with gₙ,c = ∇θ ℓ(xₙ, c) (C per-sample passes). For softmax cross-entropy this is
    /// also the exact (expected) Fisher.
    /// </summary>
    public static double[] GaussNewton<T>(IModel<T> model, ReadOnlySpan<float> x, int count, ParameterSelection<T> selection)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = selection.Dimension;
        var c = model.NumClasses;
        var result = AllocateDense(d);
        var probs = Probabilities(model, x, count);
        const int Chunk = 128;
        var g = new T[Chunk * d];
        var labels = new int[x.Length / Batching.SampleSize(model)];
        for (var s = 0; s < count; s += Chunk)
        {
            var n = Math.Min(Chunk, count - s);
            var idx = Enumerable.Range(s, n).ToArray();
            for (var cls = 0; cls < c; cls++)
            {
                Array.Fill(labels, cls);
                PerSampleGradients.Compute(model, x, labels, idx, n, selection, 1, g);
                var w = new double[n];
                for (var i = 0; i < n; i++)
                    w[i] = Math.Sqrt(probs[(s + i) * c + cls]);
                AccumulateGram(g, w, n, d, result);
            }
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
        var d = selection.Dimension;
        var c = model.NumClasses;
        var result = AllocateDense(d);
        var probs = Probabilities(model, x, count);
        var rng = new Random(seed);
        var sampled = new int[count];
        var g = new T[Math.Min(128, count) * d];
        for (var rep = 0; rep < samplesPerInput; rep++)
        {
            for (var i = 0; i < count; i++)
                sampled[i] = SampleCategorical(probs.AsSpan(i * c, c), rng);
            for (var s = 0; s < count; s += 128)
            {
                var n = Math.Min(128, count - s);
                var idx = Enumerable.Range(s, n).ToArray();
                PerSampleGradients.Compute(model, x, sampled, idx, n, selection, 1, g);
                AccumulateGram(g, null, n, d, result);
            }
        }
        Scale(result, 1.0 / ((double)count * samplesPerInput));
        return result;
    }

    /// <summary>Empirical Fisher (1/N)·Σₙ gₙgₙᵀ [d, d] with the true labels.</summary>
    public static double[] EmpiricalFisher<T>(IModel<T> model, ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int count,
        ParameterSelection<T> selection)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = selection.Dimension;
        var result = AllocateDense(d);
        var g = new T[Math.Min(128, count) * d];
        for (var s = 0; s < count; s += 128)
        {
            var n = Math.Min(128, count - s);
            PerSampleGradients.Compute(model, x, labels, Enumerable.Range(s, n).ToArray(), n, selection, 1, g);
            AccumulateGram(g, null, n, d, result);
        }
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

    /// <summary>Throws unless a d×d float64 matrix fits in the memory available to the process.</summary>
    /// <exception cref="InsufficientMemoryException">With the bytes needed and available.</exception>
    public static void EnsureDenseFits(int d)
    {
        var need = MemoryBudget.Product(d, d, sizeof(double));
        if ((long)d * d > Array.MaxLength)
            throw MemoryBudget.Exceeded(need, (long)Array.MaxLength * sizeof(double), $"A dense {d}×{d} float64 matrix", "Select fewer parameters.");
        MemoryBudget.Require(need, $"A dense {d}×{d} float64 matrix", "Select fewer parameters.", fraction: 0.5);
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

    private static double[] AllocateDense(int d)
    {
        EnsureDenseFits(d);
        return new double[(long)d * d];
    }

    private static void AccumulateGram<T>(ReadOnlySpan<T> g, double[]? rowWeights, int n, int d, double[] result)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var gd = new double[(long)n * d];
        for (var i = 0; i < n; i++)
        {
            var w = rowWeights?[i] ?? 1.0;
            for (var j = 0; j < d; j++)
                gd[(long)i * d + j] = w * double.CreateTruncating(g[i * d + j]);
        }
        Gemm.Multiply<double>(true, false, d, d, n, gd, gd, result, accumulate: true);
    }

    private static void Scale(double[] m, double s) => System.Numerics.Tensors.TensorPrimitives.Multiply(m, s, m);
}
