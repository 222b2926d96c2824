using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using WoodFisher.Kernels;
using WoodFisher.Models.Autograd;

namespace WoodFisher.Models;

/// <summary>
/// Per-sample gradients of Linear weights and biases held as factors (<see cref="IGradientRowFactors"/>): row n of a
/// weight W (out × in, index o·in + i) is δₙ[o]·aₙ[i], of its bias δₙ[o], with aₙ the layer's input and δₙ = ∂ℓₙ/∂(layer
/// output) for sample n. The entries <see cref="Gather"/> writes are the float32 products
/// <see cref="PerSampleGradients"/> writes, bit for bit. Made by <see cref="PerSampleGradients.ComputeFactors"/>.
/// </summary>
public sealed class LinearGradientFactors : IGradientRowFactors
{
    private readonly Piece[] _pieces;

    private LinearGradientFactors(int rows, int dimension, Piece[] pieces)
    {
        Rows = rows;
        Dimension = dimension;
        _pieces = pieces;
    }

    /// <inheritdoc/>
    public int Rows { get; }

    /// <inheritdoc/>
    public int Dimension { get; }

    /// <summary>Bytes held: m·(in + out) float32 per layer.</summary>
    public long Bytes => _pieces.Sum(p => ((long)p.Inputs.Length * (p.Weight ? 1 : 0)) + p.Deltas.Length) * 4;

    /// <inheritdoc/>
    public void Gather(int firstRow, int rows, long start, int count, Span<float> destination)
    {
        Check(firstRow, rows, start, count, destination);
        for (var n = firstRow; n < firstRow + rows; n++)
            WriteRow(n, start, count, destination.Slice((n - firstRow) * count, count));
    }

    /// <summary>
    /// As <see cref="Gather"/>, leaving out without multiplying them out the rows whose output gradients are ±0 for every
    /// unit the window touches, when that layer's inputs are all finite (so each product is ±0, not NaN).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int GatherNonZero(int firstRow, int rows, long start, int count, Span<float> destination)
    {
        Check(firstRow, rows, start, count, destination);
        var kept = 0;
        for (var n = firstRow; n < firstRow + rows; n++)
        {
            if (!IsZeroRow(n, start, count))
                WriteRow(n, start, count, destination.Slice(kept++ * count, count));
        }
        return kept;
    }

    private void Check(int firstRow, int rows, long start, int count, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(firstRow);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfGreaterThan((long)firstRow + rows, Rows);
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(start + count, Dimension);
        if (destination.Length < (long)rows * count)
            throw new ArgumentException($"The destination holds {destination.Length} values; {rows} rows × {count} needed.", nameof(destination));
    }

    /// <summary>Coordinates [start, start + count) of row n into <paramref name="row"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WriteRow(int n, long start, int count, Span<float> row)
    {
        var end = start + count;
        foreach (var p in _pieces)
        {
            long lo = Math.Max(start, p.Offset), hi = Math.Min(end, p.Offset + p.Length);
            if (lo >= hi)
                continue;
            int j0 = (int)(lo - p.Offset), j1 = (int)(hi - p.Offset), at = (int)(lo - start);
            var deltas = p.Deltas.AsSpan(n * p.Out, p.Out);
            if (!p.Weight)
            {
                // 0 + δ, as the row's bias sum starts from a cleared +0 (so −0 is written as +0 there too).
                for (var j = j0; j < j1; j++)
                    row[at + j - j0] = deltas[j] + 0f;
                continue;
            }
            var inputs = p.Inputs.AsSpan(n * p.In, p.In);
            for (var j = j0; j < j1;)
            {
                int o = j / p.In, i = j % p.In, len = Math.Min(p.In - i, j1 - j);
                Scale(inputs.Slice(i, len), deltas[o], row.Slice(at + j - j0, len));
                j += len;
            }
        }
    }

    /// <summary>
    /// dst = s·x, the product <see cref="PerSampleGradients"/> forms (one rounding, so the same bits). Optimised from the
    /// first call: a block's Gram gathers each of its rows once, a few hundred thousand short calls in all, which
    /// TensorPrimitives ran in first-tier code through most of a model-mode inverse.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Scale(ReadOnlySpan<float> x, float s, Span<float> dst)
    {
        var n = x.Length;
        var i = 0;
        fixed (float* px = x, pd = dst)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                var sv = Vector512.Create(s);
                for (; i + 16 <= n; i += 16)
                    (Vector512.Load(px + i) * sv).Store(pd + i);
            }
            if (Vector256.IsHardwareAccelerated)
            {
                var sv = Vector256.Create(s);
                for (; i + 8 <= n; i += 8)
                    (Vector256.Load(px + i) * sv).Store(pd + i);
            }
            for (; i < n; i++)
                pd[i] = px[i] * s;
        }
    }

    /// <summary>True when every value row n has in [start, start + count) is ±0, known from its output gradients alone.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool IsZeroRow(int n, long start, int count)
    {
        var end = start + count;
        foreach (var p in _pieces)
        {
            long lo = Math.Max(start, p.Offset), hi = Math.Min(end, p.Offset + p.Length);
            if (lo >= hi)
                continue;
            int j0 = (int)(lo - p.Offset), j1 = (int)(hi - p.Offset);
            var deltas = p.Deltas.AsSpan(n * p.Out, p.Out);
            if (p.Weight && !p.InputsFinite)
                return false;
            // A window touches one or two units of a weight: a plain loop, not a vectorised search's set-up.
            var units = p.Weight ? deltas[(j0 / p.In)..((j1 - 1) / p.In + 1)] : deltas[j0..j1];
            foreach (var u in units)
            {
                if ((BitConverter.SingleToInt32Bits(u) & int.MaxValue) != 0)
                    return false;
            }
        }
        return true;
    }

    /// <summary>One selected parameter: a Linear weight (inputs and deltas) or bias (deltas) at its row offset.</summary>
    private sealed record Piece(long Offset, int Length, bool Weight, int In, int Out, float[] Inputs, float[] Deltas)
    {
        /// <summary>Every input is finite, so a zero output gradient makes the weight's row ±0 (0·∞ would be NaN).</summary>
        public bool InputsFinite { get; } = Inputs.Length == 0 || float.IsFinite(TensorPrimitives.MaxMagnitude<float>(Inputs));
    }

    /// <summary>Copies each observed Linear layer's inputs and output gradients; notes any selected Conv2d parameter.</summary>
    internal sealed class Collector(ParameterSelection<float> selection, int rows) : IBackwardObserver<float>
    {
        private readonly Dictionary<Parameter<float>, (float[] Inputs, float[] Deltas, Parameter<float>? Bias, int In, int Out)> _layers = [];
        private bool _unsupported;

        /// <summary>The sample index of the current chunk's first sample.</summary>
        public int Start { get; set; }

        public void OnLinear(Parameter<float> weight, Parameter<float>? bias, ReadOnlySpan<float> input, ReadOnlySpan<float> outputGrad, int n, int inF, int outF)
        {
            if (selection.OffsetOf(weight) < 0 && (bias is null || selection.OffsetOf(bias) < 0))
                return;
            if (!_layers.TryGetValue(weight, out var layer))
            {
                layer = (new float[(long)rows * inF], new float[(long)rows * outF], bias, inF, outF);
                _layers[weight] = layer;
            }
            input[..(n * inF)].CopyTo(layer.Inputs.AsSpan(Start * inF));
            outputGrad[..(n * outF)].CopyTo(layer.Deltas.AsSpan(Start * outF));
        }

        public void OnConv(Parameter<float> weight, Parameter<float>? bias, Conv2dGeometry geometry, ReadOnlySpan<float> input, ReadOnlySpan<float> outputGrad, int n)
        {
            if (selection.OffsetOf(weight) >= 0 || (bias is not null && selection.OffsetOf(bias) >= 0))
                _unsupported = true;
        }

        /// <summary>The factors, or null when a selected parameter is not a Linear weight or bias seen in the pass.</summary>
        public LinearGradientFactors? Finish()
        {
            if (_unsupported)
                return null;
            var pieces = new List<Piece>();
            foreach (var (weight, l) in _layers)
            {
                if (selection.OffsetOf(weight) is var ow and >= 0)
                    pieces.Add(new Piece(ow, l.In * l.Out, true, l.In, l.Out, l.Inputs, l.Deltas));
                if (l.Bias is not null && selection.OffsetOf(l.Bias) is var ob and >= 0)
                    pieces.Add(new Piece(ob, l.Out, false, l.In, l.Out, l.Inputs, l.Deltas));
            }
            if (pieces.Sum(p => (long)p.Length) != selection.Dimension || pieces.Count != selection.Entries.Count)
                return null;
            pieces.Sort((a, b) => a.Offset.CompareTo(b.Offset));
            return new LinearGradientFactors(rows, selection.Dimension, [.. pieces]);
        }
    }
}
