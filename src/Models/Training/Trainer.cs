using System.Numerics;
using System.Numerics.Tensors;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models.Training;

/// <summary>Settings of <see cref="Trainer"/>.Train.</summary>
public sealed record TrainerOptions
{
    /// <summary>Epochs.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Mini-batch size.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>Learning-rate schedule (per fractional epoch); default constant 0.05.</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant(0.05);

    /// <summary>Momentum μ.</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>Nesterov momentum.</summary>
    public bool Nesterov { get; init; }

    /// <summary>L2 weight decay λ.</summary>
    public double WeightDecay { get; init; }

    /// <summary>Seed of the per-epoch shuffles (epoch e uses a permutation drawn from one generator seeded once).</summary>
    public int Seed { get; init; }

    /// <summary>Masks held fixed (pruned weights stay exactly zero); null for dense training.</summary>
    public ParameterMasks? Masks { get; init; }

    /// <summary>Checks the values the trainer reads.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Epochs or batch size below 1, μ outside [0, 1), or λ not finite and ≥ 0.</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Epochs, 1, nameof(Epochs));
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchSize, 1, nameof(BatchSize));
        ArgumentNullException.ThrowIfNull(Schedule, nameof(Schedule));
        if (!(Momentum >= 0 && Momentum < 1))
            throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, "Momentum μ must be in [0, 1).");
        if (!(WeightDecay >= 0) || !double.IsFinite(WeightDecay))
            throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "Weight decay λ must be finite and ≥ 0.");
    }
}

/// <summary>Progress of training, reported after every batch (<see cref="IsEpochEnd"/> false) and every epoch (true).</summary>
/// <param name="Epoch">0-based epoch.</param>
/// <param name="Batch">Batches done in this epoch.</param>
/// <param name="BatchesPerEpoch">Batches per epoch.</param>
/// <param name="Loss">Batch loss, or the epoch's mean training loss at epoch end.</param>
/// <param name="LearningRate">Current learning rate.</param>
/// <param name="IsEpochEnd">Whether this is the end-of-epoch report.</param>
public readonly record struct TrainingProgress(int Epoch, int Batch, int BatchesPerEpoch, double Loss, double LearningRate, bool IsEpochEnd);

/// <summary>Mini-batch SGD training of a classifier with softmax cross-entropy.</summary>
public static class Trainer
{
    /// <summary>
    /// Trains <paramref name="model"/> on the first <paramref name="count"/> samples of x [samples, …InputShape] / labels,
    /// shuffling each epoch; returns the mean training loss of each epoch. The model is left in eval mode.
    /// </summary>
    /// <exception cref="TrainingDivergedException">A batch loss or a weight became NaN or infinite.</exception>
    public static double[] Train<T>(IModel<T> model, ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int count, TrainerOptions options,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(options);
        var sgd = new Sgd<T>(model.Parameters, options.Momentum, options.Nesterov, options.WeightDecay);
        return Train(model, sgd, x, labels, count, options, progress, cancellationToken);
    }

    /// <summary>
    /// As <see cref="Train{T}(IModel{T}, ReadOnlySpan{float}, ReadOnlySpan{int}, int, TrainerOptions, IProgress{TrainingProgress}?, CancellationToken)"/>,
    /// stepping an existing optimizer over <paramref name="model"/>'s parameters, so its momentum buffers carry over from
    /// earlier calls (e.g. one call per epoch of gradual pruning). μ, Nesterov and λ are the optimizer's; the corresponding
    /// <paramref name="options"/> are ignored. Masked entries of the momentum buffers are zeroed before the first step.
    /// </summary>
    public static double[] Train<T>(IModel<T> model, Sgd<T> sgd, ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int count, TrainerOptions options,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(sgd);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Batching.Check(model, x, labels, count);
        if (options.Masks is not null)
        {
            options.Masks.Apply(model);
            sgd.Apply(options.Masks);
        }
        var order = Enumerable.Range(0, count).ToArray();
        var rng = new Random(options.Seed);
        var perEpoch = (count + options.BatchSize - 1) / options.BatchSize;
        var history = new double[options.Epochs];
        var lab = new int[options.BatchSize];
        model.Training = true;
        for (var e = 0; e < options.Epochs; e++)
        {
            rng.Shuffle(order);
            double sum = 0;
            for (var b = 0; b < perEpoch; b++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var s = b * options.BatchSize;
                var n = Math.Min(options.BatchSize, count - s);
                var idx = order.AsSpan(s, n);
                for (var i = 0; i < n; i++)
                    lab[i] = labels[idx[i]];
                using var tape = new Tape<T> { RecycleBuffers = true };
                var loss = Ops.SoftmaxCrossEntropy(tape, model.Forward(tape, Batching.Gather(model, x, idx)), lab.AsSpan(0, n));
                tape.Backward(loss);
                var lr = options.Schedule.At(e + (double)b / perEpoch);
                sgd.Step(tape, lr, options.Masks);
                var l = double.CreateTruncating(loss.Data[0]);
                if (!double.IsFinite(l))
                    throw new TrainingDivergedException(e + 1, b + 1, perEpoch, $"the batch loss is {l}");
                sum += l * n;
                progress?.Report(new TrainingProgress(e, b + 1, perEpoch, l, lr, false));
            }
            CheckFinite(model, e + 1, perEpoch);
            history[e] = sum / count;
            progress?.Report(new TrainingProgress(e, perEpoch, perEpoch, history[e], options.Schedule.At(e + 1), true));
        }
        model.Training = false;
        return history;
    }

    /// <summary>The step's loss was finite, but a weight can overflow without the loss showing it yet: check them once per epoch.</summary>
    private static void CheckFinite<T>(IModel<T> model, int epoch, int steps)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var p in model.Parameters)
        {
            // MaxMagnitude is NaN when any entry is NaN and infinite when any is infinite: one vectorised pass.
            var m = p.Data.Length == 0 ? T.Zero : TensorPrimitives.MaxMagnitude<T>(p.Data);
            if (!T.IsFinite(m))
                throw new TrainingDivergedException(epoch, steps, steps, $"{p.Name} holds {m}");
        }
    }
}
