using System.Numerics.Tensors;
using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels;

/// <summary>The Dense strategy's inverse at several λ from one set of Gram matrices (a damping search).</summary>
internal sealed partial class DenseStrategy
{
    /// <summary>
    /// Like <see cref="Finish"/> but keeps the Gram matrices, so it can be called again at another λ (a damping search):
    /// the Gram is the same for every λ, only the Cholesky inverse of λI + Gram/N is redone, on a copy of each block.
    /// Kept rows are turned into the Gram matrices on the first call (the same float32-product, float64-sum SYRK as
    /// <see cref="Finish"/> uses) and dropped.
    /// </summary>
    /// <exception cref="BlockNotPositiveDefiniteException">A block's Cholesky failed or its inverse is not finite.</exception>
    public IBlockStorage InvertKeeping(ICurvatureBackend backend, double damping, double normalizer)
    {
        var layout = _layout;
        var single = layout.Count < Environment.ProcessorCount;
        if (_rows is { } rows)
        {
            var capacity = rows.Length / layout.Dimension;
            var m = _held;
            var formed = new double[layout.SquareLength];
            BlockParallel.For(layout.Count, b =>
            {
                var c = layout.Size(b);
                LinearAlgebra.SymmetricRankKMixed(true, c, m, rows.AsSpan((int)((long)capacity * layout.Offset(b)), m * c), c, formed.AsSpan((int)layout.SquareOffset(b), c * c), c, single);
            });
            _gram = formed;
            _rows = null;
        }

        var gram = _gram!;
        var all = new double[layout.SquareLength];
        BlockParallel.For(layout.Count, b =>
        {
            var c = layout.Size(b);
            var a = all.AsSpan((int)layout.SquareOffset(b), c * c);
            gram.AsSpan((int)layout.SquareOffset(b), c * c).CopyTo(a);
            using var f = new Rental<float>(_precision == Precision.Float32 ? c * c : 0);
            if (Invert(b, a, c, damping, normalizer, single, f.Array))
            {
                TensorPrimitives.ConvertTruncating<float, double>(f.Array.AsSpan(0, c * c), a);
            }
        });

        return Upload(backend, layout, _precision, s => backend.Write(s, all));
    }
}
