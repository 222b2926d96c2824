using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels;

/// <summary>The Dense strategy's inverse at several λ from one set of Gram matrices (a damping search).</summary>
internal sealed partial class DenseStrategy
{
    /// <summary>
    /// Like <see cref="Finish"/> but keeps the Gram matrices, so it can be called again at another λ (a damping search):
    /// the Gram is the same for every λ, only the Cholesky inverse of λI + Gram/N is redone, on a copy of each block.
    /// Kept rows (or factors) are turned into the Gram matrices on the first call (the same float32-product, float64-sum SYRK as
    /// <see cref="Finish"/> uses) and dropped.
    /// </summary>
    /// <exception cref="BlockNotPositiveDefiniteException">A block's Cholesky failed or its inverse is not finite.</exception>
    public IBlockStorage InvertKeeping(ICurvatureBackend backend, double damping, double normalizer)
    {
        var layout = _layout;
        if (_rowCapacity > 0)
        {
            var formed = new double[layout.SquareLength];
            BlockParallel.For(layout.Count, b =>
            {
                using var scratch = new Rental<float>(FactorScratchLength(layout.Size(b)));
                FormGram(b, formed.AsSpan((int)layout.SquareOffset(b), layout.Size(b) * layout.Size(b)), scratch.Array, allowFew: false);
            });
            Release();
            _gram = formed;
        }

        var gram = _gram!;
        return InvertBlocks(backend, damping, normalizer, (b, a, _) =>
        {
            gram.AsSpan((int)layout.SquareOffset(b), a.Length).CopyTo(a);
            return null;
        });
    }
}
