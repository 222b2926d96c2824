using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace WoodFisher.Models.Autograd;

public static partial class Ops
{
    /// <summary>
    /// y = max(x, 0) elementwise, any shape. ∂x += g·[x &gt; 0]; R{y} = R{x}·[x &gt; 0]; R{∂x} += R{g}·[x &gt; 0]
    /// (the second derivative of ReLU is zero almost everywhere).
    /// </summary>
    public static Tensor<T> Relu<T>(Tape<T> tape, Tensor<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = tape.Output(x.Shape, x.RequiresGrad);
        ForEachSlice(x.Length, (s, n) => System.Numerics.Tensors.TensorPrimitives.Max(x.Data.AsSpan(s, n), T.Zero, y.Data.AsSpan(s, n)));
        if (tape.ForwardOverReverse)
        {
            var rx = tape.TangentOrNull(x);
            if (rx is not null)
                MaskPositive(x.Data, rx, tape.NewTangent(y), accumulate: false);
        }
        tape.Record(() =>
        {
            if (!x.RequiresGrad)
                return;
            var g = tape.GradOrNull(y);
            if (g is not null)
            {
                var gx = tape.GradForWrite(x, out var fresh);
                MaskPositive(x.Data, g, gx, accumulate: !fresh);
            }
            var rg = tape.ForwardOverReverse ? tape.GradTangentOrNull(y) : null;
            if (rg is not null)
                MaskPositive(x.Data, rg, tape.GradTangent(x), accumulate: true);
        });
        return y;
    }

    /// <summary>dst = v·[x &gt; 0], or dst += v·[x &gt; 0] when accumulating; spread over the cores for long spans.</summary>
    private static void MaskPositive<T>(T[] x, T[] v, T[] dst, bool accumulate) where T : unmanaged, IFloatingPointIeee754<T>
        => ForEachSlice(x.Length, (s, n) => MaskPositive<T>(x.AsSpan(s, n), v.AsSpan(s, n), dst.AsSpan(s, n), accumulate));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MaskPositive<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> v, Span<T> dst, bool accumulate) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var xs = MemoryMarshal.Cast<T, Vector<T>>(x);
            var vs = MemoryMarshal.Cast<T, Vector<T>>(v);
            var ds = MemoryMarshal.Cast<T, Vector<T>>(dst);
            for (var j = 0; j < xs.Length; j++)
            {
                var m = Vector.ConditionalSelect(Vector.GreaterThan(xs[j], Vector<T>.Zero), vs[j], Vector<T>.Zero);
                ds[j] = accumulate ? ds[j] + m : m;
            }
            i = xs.Length * Vector<T>.Count;
        }
        for (; i < x.Length; i++)
        {
            var m = x[i] > T.Zero ? v[i] : T.Zero;
            dst[i] = accumulate ? dst[i] + m : m;
        }
    }

    /// <summary>
    /// body(start, count) over slices of [0, count) items of <paramref name="unit"/> elements each, in parallel when the work
    /// repays the hand-off; element slices (unit 1) start on vector boundaries.
    /// </summary>
    internal static void ForEachSlice(int count, Action<int, int> body, int unit = 1)
    {
        const long MinWork = 1 << 15;
        var parts = (int)Math.Min(Math.Min(Environment.ProcessorCount, count), (long)count * unit / MinWork);
        if (parts <= 1)
        {
            body(0, count);
            return;
        }
        var round = unit == 1 ? Vector<byte>.Count : 1;
        var slice = ((count + parts - 1) / parts + round - 1) / round * round;
        Parallel.For(0, parts, p =>
        {
            var s = p * slice;
            if (s < count)
                body(s, Math.Min(slice, count - s));
        });
    }
}
