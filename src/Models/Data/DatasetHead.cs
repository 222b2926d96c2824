using WoodFisher.IO;

namespace WoodFisher.Models.Data;

/// <summary>
/// The first examples of a split, ready as soon as they are inflated, while the rest of the image file is read and
/// checked in the background (<see cref="Verified"/>). A job that uses only the first examples — the Fisher samples of a
/// one-shot prune, in file order — need not wait for 60,000 images to be inflated and converted; it waits for
/// <see cref="Verified"/> before it writes anything, so a file that is damaged further on still fails the job.
/// Made by <see cref="DataSets.LoadHead"/>.
/// </summary>
/// <param name="Head">The first min(count, <paramref name="Total"/>) examples.</param>
/// <param name="Total">The examples the split holds (its header's count, equal to its labels').</param>
/// <param name="Verified">
/// Completes when the whole image file has been read and passed every check <see cref="DataSets.Load"/> makes; faults
/// with the <see cref="InvalidDataException"/> that <see cref="DataSets.Load"/> would have thrown.
/// </param>
public sealed record DatasetHead(Dataset Head, int Total, Task Verified)
{
    /// <summary>Waits for <see cref="Verified"/> and rethrows its failure as it is.</summary>
    public void WaitVerified() => Verified.GetAwaiter().GetResult();
}

public static partial class DataSets
{
    /// <summary>
    /// The first <paramref name="count"/> examples of a split (all when it holds fewer), from the same source and with the
    /// same checks as <see cref="Load"/>: the labels and the image header are checked before this returns, the rest of the
    /// image file (inflation, size, trailer CRC) by <see cref="DatasetHead.Verified"/>. The head's examples are those
    /// <see cref="Load"/> gives, bit for bit.
    /// </summary>
    /// <exception cref="InvalidDataException">The labels, the image header or the head's bytes are invalid.</exception>
    public static DatasetHead LoadHead(string? dir, string split, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (Resolve(dir, split) is not var (imagesPath, labelsPath))
        {
            var all = LoadEmbedded(split);
            return new DatasetHead(all.Take(count), all.Count, Task.CompletedTask);
        }

        (int[] Values, int Classes) labels;
        using (var labelStream = File.OpenRead(labelsPath))
            labels = Labels(labelStream, imagesPath);
        var head = new IdxHead(imagesPath, count, labels.Values, labels.Classes);
        // Its own thread, not a pool worker: the job's parallel loops would otherwise wait for the pool to grow. Once the
        // head is delivered, the thread drops to background priority for the check of the rest (BackgroundWork).
        var verified = Task.Factory.StartNew(() =>
        {
            try
            {
                using var images = File.OpenRead(imagesPath);
                Idx.ReadThrough(images, imagesPath, head);
            }
            catch (Exception e)
            {
                head.Fail(e);
                throw;
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return new DatasetHead(head.Wait(), labels.Values.Length, verified);
    }
}

/// <summary>Receives the first bytes of an IDX image file's data (<see cref="Idx.ReadThrough"/>) and makes the head's examples of them.</summary>
internal sealed class IdxHead(string name, int count, int[] labels, int classes)
{
    private readonly TaskCompletionSource<Dataset> _head = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private FeatureShape _shape;
    private int _rows;

    /// <summary>Checks the header as <see cref="DataSets.Load"/> does and returns the data bytes wanted.</summary>
    public long Accept(DType dtype, long[] dims)
    {
        try
        {
            DataSets.CheckHeader(name, dtype, dims, labels.Length);
        }
        catch (InvalidDataException e)
        {
            Fail(e);
            throw;
        }
        _shape = new FeatureShape(1, (int)dims[1], (int)dims[2]);
        _rows = (int)Math.Min(count, dims[0]);
        return (long)_rows * _shape.Size;
    }

    /// <summary>Delivers the head, then lowers the reading thread (LoadHead's own) to background priority for the rest.</summary>
    public void Take(ReadOnlySpan<byte> data)
    {
        _head.TrySetResult(new Dataset(Idx.ScalePixels(data), labels[.._rows], _shape, classes, name));
        BackgroundWork.LowerCurrentThread();
    }

    public void Fail(Exception e) => _head.TrySetException(e);

    /// <summary>The head, or the failure that came first, rethrown as it is.</summary>
    public Dataset Wait() => _head.Task.GetAwaiter().GetResult();
}
