namespace WoodFisher.Kernels;

/// <summary>
/// Inverse blocks living on one backend: full c_i × c_i row-major storage per block, blocks consecutive in
/// the order of <see cref="BlockLayout"/> (block b starts at element <see cref="BlockLayout.SquareOffset"/>).
/// </summary>
public interface IBlockStorage : IDisposable
{
    /// <summary>The block partition.</summary>
    BlockLayout Layout { get; }

    /// <summary>Element type of the stored blocks.</summary>
    Precision Precision { get; }
}

/// <summary>
/// The kernel interface of the curvature core. One implementation per backend (SIMD CPU, ILGPU), both derived from
/// <see cref="CurvatureBackend"/>, which checks every argument and runs the joint OBS update; callers never branch on which
/// one they hold. Every vector argument is float64 at the interface; a backend converts to its
/// storage precision internally. Gradient matrices are row-major (rows × d).
/// </summary>
public interface ICurvatureBackend : IDisposable
{
    /// <summary>Short human-readable name, e.g. "cpu-avx512" or "ilgpu-cuda".</summary>
    string Name { get; }

    /// <summary>Allocates zeroed block storage for <paramref name="layout"/>.</summary>
    IBlockStorage Allocate(BlockLayout layout, Precision precision);

    /// <summary>Sets every block to <paramref name="value"/>·I.</summary>
    void SetScaledIdentity(IBlockStorage storage, double value);

    /// <summary>Uploads all blocks (length <see cref="BlockLayout.SquareLength"/>).</summary>
    void Write(IBlockStorage storage, ReadOnlySpan<double> blocks);

    /// <summary>Downloads all blocks (length <see cref="BlockLayout.SquareLength"/>).</summary>
    void Read(IBlockStorage storage, Span<double> blocks);

    /// <summary>Downloads block <paramref name="block"/> (length c_b²).</summary>
    void ReadBlock(IBlockStorage storage, int block, Span<double> destination);

    /// <summary>
    /// Downloads the principal sub-matrix [F⁻¹]_QQ of block <paramref name="block"/> for the block-local indices Q in
    /// <paramref name="local"/> (|Q| × |Q| row-major, in the order given), reading only those entries where the blocks are
    /// in host memory.
    /// </summary>
    void ReadSubMatrix(IBlockStorage storage, int block, ReadOnlySpan<int> local, Span<double> destination);

    /// <summary>
    /// The principal sub-matrices of block <paramref name="block"/> for each list of block-local indices in
    /// <paramref name="locals"/>, each handed to <paramref name="use"/>(i, matrix) in order (the matrix is the callee's):
    /// as <see cref="ReadSubMatrix"/> part by part, but a backend that keeps its blocks on a device downloads the block
    /// once for all of them.
    /// </summary>
    void ReadSubMatrices(IBlockStorage storage, int block, IReadOnlyList<int[]> locals, Action<int, double[]> use);

    /// <summary>
    /// Sequential Sherman–Morrison updates, for each row g of <paramref name="gradients"/> in order and each block:
    /// F⁻¹ ← F⁻¹ − (F⁻¹g)(F⁻¹g)ᵀ / (N + gᵀF⁻¹g), with g restricted to the block and N = <paramref name="normalizer"/>.
    /// </summary>
    void RankOneUpdates(IBlockStorage storage, ReadOnlySpan<double> gradients, int rows, double normalizer);

    /// <summary>
    /// The same result as <see cref="RankOneUpdates(IBlockStorage, ReadOnlySpan{double}, int, double)"/> for all <paramref name="rows"/> gradients at once, per block:
    /// U = F⁻¹Gᵀ, S = N·I + GU, F⁻¹ ← F⁻¹ − U S⁻¹ Uᵀ (G restricted to the block's columns).
    /// </summary>
    void RankKUpdate(IBlockStorage storage, ReadOnlySpan<double> gradients, int rows, double normalizer);

    /// <summary>
    /// <see cref="RankOneUpdates(IBlockStorage, ReadOnlySpan{double}, int, double)"/> with float32 rows, read as they are
    /// (never widened into a float64 copy of G).
    /// </summary>
    void RankOneUpdates(IBlockStorage storage, ReadOnlySpan<float> gradients, int rows, double normalizer);

    /// <summary>
    /// <see cref="RankKUpdate(IBlockStorage, ReadOnlySpan{double}, int, double)"/> with float32 rows, read as they are.
    /// </summary>
    void RankKUpdate(IBlockStorage storage, ReadOnlySpan<float> gradients, int rows, double normalizer);

    /// <summary>Writes the diagonal of every block, in coordinate order (length d).</summary>
    void Diagonal(IBlockStorage storage, Span<double> diagonal);

    /// <summary>
    /// Block-diagonal product: for each of <paramref name="count"/> row-major vectors v (count × d), result = F⁻¹v.
    /// </summary>
    void Multiply(IBlockStorage storage, ReadOnlySpan<double> vectors, Span<double> result, int count);

    /// <summary>
    /// Joint OBS update, independently per block with Q = the block's coordinates that <paramref name="mask"/> prunes
    /// (mask true = kept, false = pruned): w ← w − F⁻¹E_Q([F⁻¹]_QQ)⁻¹w_Q, after which w_Q is set exactly to zero.
    /// Blocks with empty Q are untouched.
    /// </summary>
    void ObsUpdate(IBlockStorage storage, Span<double> weights, ReadOnlySpan<bool> mask);
}
