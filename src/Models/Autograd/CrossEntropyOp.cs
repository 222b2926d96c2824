using System.Numerics;

namespace WoodFisher.Models.Autograd;

public static partial class Ops
{
    /// <summary>
    /// Softmax cross-entropy L = s·Σₙ (logsumexp(zₙ) − zₙ[yₙ]) for logits z [n, c] and labels y [n]; s = 1/n (the mean) unless
    /// <paramref name="scale"/> is given. Returns a scalar [1]. ∂z = s·(p − e_y); R{L} = s·Σ(p·R{z} − R{z}[y]);
    /// R{∂z} = s·(p ⊙ (R{z} − pᵀR{z})) = s·(diag p − ppᵀ)R{z}.
    /// </summary>
    public static Tensor<T> SoftmaxCrossEntropy<T>(Tape<T> tape, Tensor<T> logits, ReadOnlySpan<int> labels, T? scale = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (n, c, s, lab) = LossLabels(logits, labels, scale);
        var p = new T[n * c];
        var loss = T.Zero;
        for (var r = 0; r < n; r++)
        {
            var z = logits.Data.AsSpan(r * c, c);
            var pr = p.AsSpan(r * c, c);
            var lse = SoftmaxRow(z, pr);
            loss += lse - z[lab[r]];
        }
        var y = new Tensor<T>([1], [loss * s], logits.RequiresGrad);
        if (tape.ForwardOverReverse)
        {
            var rz = tape.TangentOrNull(logits);
            if (rz is not null)
            {
                var rl = T.Zero;
                for (var r = 0; r < n; r++)
                {
                    var dot = System.Numerics.Tensors.TensorPrimitives.Dot<T>(p.AsSpan(r * c, c), rz.AsSpan(r * c, c));
                    rl += dot - rz[r * c + lab[r]];
                }
                tape.NewTangent(y)[0] = rl * s;
            }
        }
        tape.Record(() =>
        {
            if (!logits.RequiresGrad)
                return;
            var gl = tape.GradOrNull(y)?[0] ?? T.Zero;
            var gz = tape.Grad(logits);
            var k = gl * s;
            for (var r = 0; r < n; r++)
            {
                for (var j = 0; j < c; j++)
                    gz[r * c + j] += k * p[r * c + j];
                gz[r * c + lab[r]] -= k;
            }
            if (!tape.ForwardOverReverse)
                return;
            var rz = tape.TangentOrNull(logits);
            var rgl = tape.GradTangentOrNull(y)?[0] ?? T.Zero;
            if (rz is null && rgl == T.Zero)
                return;
            var rgz = tape.GradTangent(logits);
            for (var r = 0; r < n; r++)
            {
                var pr = p.AsSpan(r * c, c);
                if (rz is not null)
                {
                    var rzr = rz.AsSpan(r * c, c);
                    var dot = System.Numerics.Tensors.TensorPrimitives.Dot<T>(pr, rzr);
                    for (var j = 0; j < c; j++)
                        rgz[r * c + j] += k * pr[j] * (rzr[j] - dot);
                }
                if (rgl != T.Zero)
                {
                    for (var j = 0; j < c; j++)
                        rgz[r * c + j] += rgl * s * pr[j];
                    rgz[r * c + lab[r]] -= rgl * s;
                }
            }
        });
        return y;
    }

    /// <summary>
    /// What a classification loss on x [n, c] needs of its labels: n, c, the scale s (1/n unless given) and the first n
    /// labels, each checked to name a class in [0, c).
    /// </summary>
    private static (int N, int C, T Scale, int[] Labels) LossLabels<T>(Tensor<T> x, ReadOnlySpan<int> labels, T? scale)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Dim(0), c = x.Length / n;
        if (labels.Length < n)
            throw new ArgumentException($"Need {n} labels, got {labels.Length}.", nameof(labels));
        var lab = labels[..n].ToArray();
        for (var r = 0; r < n; r++)
        {
            if ((uint)lab[r] >= (uint)c)
                throw new ArgumentOutOfRangeException(nameof(labels), $"Label {lab[r]} at row {r} is outside [0, {c}).");
        }
        return (n, c, scale ?? T.One / T.CreateTruncating(n), lab);
    }

    /// <summary>Writes softmax(z) into <paramref name="p"/> and returns logsumexp(z), stably (max subtracted).</summary>
    internal static T SoftmaxRow<T>(ReadOnlySpan<T> z, Span<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var max = System.Numerics.Tensors.TensorPrimitives.Max(z);
        var sum = T.Zero;
        for (var j = 0; j < z.Length; j++)
        {
            p[j] = T.Exp(z[j] - max);
            sum += p[j];
        }
        for (var j = 0; j < z.Length; j++)
            p[j] /= sum;
        return max + T.Log(sum);
    }

    /// <summary>
    /// Log-softmax y = z − logsumexp(z) per row of z [n, c]. ∂z += g − p·Σg; R{y} = R{z} − pᵀR{z};
    /// R{∂z} += R{g} − (p ⊙ R{y})Σg − p·ΣR{g}.
    /// </summary>
    public static Tensor<T> LogSoftmax<T>(Tape<T> tape, Tensor<T> z) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = z.Dim(0), c = z.Length / n;
        var y = new Tensor<T>(z.Shape, null, z.RequiresGrad);
        var p = new T[n * c];
        for (var r = 0; r < n; r++)
        {
            var lse = SoftmaxRow<T>(z.Data.AsSpan(r * c, c), p.AsSpan(r * c, c));
            for (var j = 0; j < c; j++)
                y.Data[r * c + j] = z.Data[r * c + j] - lse;
        }
        T[]? ry = null;
        if (tape.ForwardOverReverse)
        {
            var rz = tape.TangentOrNull(z);
            if (rz is not null)
            {
                ry = tape.NewTangent(y);
                for (var r = 0; r < n; r++)
                {
                    var dot = System.Numerics.Tensors.TensorPrimitives.Dot<T>(p.AsSpan(r * c, c), rz.AsSpan(r * c, c));
                    for (var j = 0; j < c; j++)
                        ry[r * c + j] = rz[r * c + j] - dot;
                }
            }
        }
        tape.Record(() =>
        {
            if (!z.RequiresGrad)
                return;
            var g = tape.GradOrNull(y);
            if (g is null)
                return;
            var gz = tape.Grad(z);
            var rg = tape.ForwardOverReverse ? tape.GradTangentOrNull(y) : null;
            var rgz = tape.ForwardOverReverse && (rg is not null || ry is not null) ? tape.GradTangent(z) : null;
            for (var r = 0; r < n; r++)
            {
                var sg = T.Zero;
                for (var j = 0; j < c; j++)
                    sg += g[r * c + j];
                for (var j = 0; j < c; j++)
                    gz[r * c + j] += g[r * c + j] - p[r * c + j] * sg;
                if (rgz is null)
                    continue;
                var srg = T.Zero;
                if (rg is not null)
                {
                    for (var j = 0; j < c; j++)
                        srg += rg[r * c + j];
                }
                for (var j = 0; j < c; j++)
                {
                    var v = -p[r * c + j] * srg;
                    if (rg is not null)
                        v += rg[r * c + j];
                    if (ry is not null)
                        v -= p[r * c + j] * ry[r * c + j] * sg;
                    rgz[r * c + j] += v;
                }
            }
        });
        return y;
    }

    /// <summary>
    /// Negative log-likelihood on log-probabilities: L = −s·Σₙ logp[n, yₙ], s = 1/n unless given. Returns a scalar [1].
    /// Linear in logp: ∂logp[n, yₙ] −= s·∂L; R{L} = −s·Σ R{logp}[n, yₙ].
    /// </summary>
    public static Tensor<T> NllLoss<T>(Tape<T> tape, Tensor<T> logProbs, ReadOnlySpan<int> labels, T? scale = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (n, c, s, lab) = LossLabels(logProbs, labels, scale);
        var loss = T.Zero;
        for (var r = 0; r < n; r++)
            loss -= logProbs.Data[r * c + lab[r]];
        var y = new Tensor<T>([1], [loss * s], logProbs.RequiresGrad);
        if (tape.ForwardOverReverse)
        {
            var rx = tape.TangentOrNull(logProbs);
            if (rx is not null)
            {
                var rl = T.Zero;
                for (var r = 0; r < n; r++)
                    rl -= rx[r * c + lab[r]];
                tape.NewTangent(y)[0] = rl * s;
            }
        }
        tape.Record(() =>
        {
            if (!logProbs.RequiresGrad)
                return;
            var gl = tape.GradOrNull(y)?[0] ?? T.Zero;
            var gx = tape.Grad(logProbs);
            for (var r = 0; r < n; r++)
                gx[r * c + lab[r]] -= gl * s;
            var rgl = tape.ForwardOverReverse ? tape.GradTangentOrNull(y)?[0] ?? T.Zero : T.Zero;
            if (rgl != T.Zero)
            {
                var rgx = tape.GradTangent(logProbs);
                for (var r = 0; r < n; r++)
                    rgx[r * c + lab[r]] -= rgl * s;
            }
        });
        return y;
    }
}
