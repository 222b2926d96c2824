using System.Numerics;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models;

internal static class Batching
{
    public static int SampleSize<T>(IModel<T> model) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var per = 1;
        foreach (var s in model.InputShape)
            per *= s;
        return per;
    }

    public static Tensor<T> Slice<T>(IModel<T> model, ReadOnlySpan<float> x, int start, int count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var per = SampleSize(model);
        if ((long)(start + count) * per > x.Length)
            throw new ArgumentException($"Inputs hold {x.Length / per} samples of size {per}; asked for [{start}, {start + count}).", nameof(x));
        return Tensor<T>.FromFloats([count, .. model.InputShape], x.Slice(start * per, count * per));
    }

    public static Tensor<T> Gather<T>(IModel<T> model, ReadOnlySpan<float> x, ReadOnlySpan<int> indices) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var per = SampleSize(model);
        var t = new Tensor<T>([indices.Length, .. model.InputShape]);
        for (var i = 0; i < indices.Length; i++)
        {
            var src = x.Slice(indices[i] * per, per);
            var dst = t.Data.AsSpan(i * per, per);
            for (var j = 0; j < per; j++)
                dst[j] = T.CreateTruncating(src[j]);
        }
        return t;
    }

    public static void Check<T>(IModel<T> model, ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var per = SampleSize(model);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        if ((long)count * per > x.Length)
            throw new ArgumentException($"Inputs hold {x.Length / per} samples of size {per}; {count} requested.", nameof(x));
        if (labels.Length < count)
            throw new ArgumentException($"Labels hold {labels.Length} entries; {count} requested.", nameof(labels));
    }
}
