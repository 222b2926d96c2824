using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels;

/// <summary>
/// The Dense strategy of <see cref="WoodFisherBuilder"/>: the Gram matrices Σ g_b g_bᵀ of every block (lower triangles,
/// float64), then λI + Gram/N inverted by Cholesky, and the inverses uploaded. Two forms with the same arithmetic:
/// with m known and the float32 rows no larger than twice the Gram matrices (<see cref="HoldsRows"/>), the rows are kept
/// (m × d float32) and each block's Gram is formed from all m rows at once at <see cref="Finish"/>, inverted while it is
/// in cache and written straight into the blocks, so no Σc_i² float64 array is ever swept; otherwise the Gram matrices
/// are accumulated as the rows stream in.
/// </summary>
/// <remarks>
/// <para>With <see cref="Precision.Float32"/> storage the products are float32 at twice the float64 rate, summed in float32
/// over at most <see cref="LinearAlgebra.MixedPanel"/> rows and in float64 across those panels
/// (<see cref="LinearAlgebra.SymmetricRankKMixed{TSrc}"/>), so the Gram
/// carries an error below γ_KC·tr(GᵀG/N) in 2-norm (γ_k = k·u₃₂/(1 − k·u₃₂); γ_256 ≈ 1.5·10⁻⁵). The SPD inverse
/// then runs in float32 as well, taken to have a Cholesky inverse's backward errors (factor, triangular inverse, product:
/// below about 3γ_{c+1}·tr(F̂); the oracle tests hold its blocked sweep to a Cholesky inverse's residual bound), and its
/// residual is checked (<see cref="Float32Residual"/>). Together: ‖F̂⁻¹_float32 − F̂⁻¹‖₂ ≤ β/(1 − β)·‖F̂⁻¹‖₂ for the exact F̂ of the float32-rounded rows,
/// β = (γ_KC·tr(GᵀG/N) + 3γ_{c+1}·tr(F̂))/λ_min(F̂), plus the final rounding of each entry to float32 — the κ(F̂)·u₃₂ class
/// of the float32 Woodbury strategies (the bound is worst-case; measured errors are 10³–10⁵ times smaller). A block whose
/// float32 Cholesky fails, overflows or leaves a residual beyond what the float32 Gram already implies is inverted again
/// in float64 from its float64 Gram. A block that few kept rows (or factor rows) reach, at most
/// <see cref="FewRowsMax"/> that are not ±0 in it, is inverted in the Woodbury form instead, (I − XᵀK⁻¹X)/λ with
/// K = NλI + XXᵀ (<see cref="TryInvertFewRows"/>), under the same residual test. With
/// <see cref="Precision.Float64"/> everything is float64.</para>
/// <para>Either way the inverse is checked: a failed Cholesky, a non-finite entry, or a diagonal entry that is not positive
/// once rounded to the storage precision (e.g. 1/(λ + 10⁶⁰) in float32) raises
/// <see cref="BlockNotPositiveDefiniteException"/>, as the Woodbury strategies do.</para>
/// </remarks>
internal sealed partial class DenseStrategy
{
    /// <summary>√u₃₂: a float32 inverse whose residual stays below it keeps at least half of float32's digits.</summary>
    private const double HalfFloat32 = 2.44140625e-4;

    private readonly BlockLayout _layout;
    private readonly Precision _precision;
    private double[]? _gram;
    private float[]? _rows;
    private IGradientRowFactors? _factors;
    private long _rowCapacity;
    private int _held;
    private int _fallbacks;
    private int _fewRows;

    /// <summary>Starts the strategy; <paramref name="rows"/> is m (after mini-batch averaging) when known.</summary>
    public DenseStrategy(BlockLayout layout, Precision precision, long? rows = null)
    {
        _layout = layout;
        _precision = precision;
        // The kept rows or the Gram matrices are allocated by the first Accumulate, so that rows given as factors
        // (UseFactors) pay for neither.
        if (HoldsRows(layout, precision, rows))
        {
            _rowCapacity = rows!.Value;
            return;
        }

        if (layout.SquareLength > Array.MaxLength)
        {
            throw new NotSupportedException($"Σc_i² = {layout.SquareLength} block elements exceed one array; use a smaller block size.");
        }
    }

    /// <summary>Bytes of the Gram matrices (Σc_i² float64).</summary>
    public static long GramBytes(BlockLayout layout) => layout.SquareLength * 8;

    /// <summary>
    /// Whether m = <paramref name="rows"/> float32 rows are kept and each Gram formed from all of them at the end: in
    /// float32 storage with m known, the m × d float32 rows in one array and no larger than twice the Gram matrices
    /// (m ≤ 4c for equal blocks), and within <see cref="MemoryBudget"/> beside the blocks.
    /// </summary>
    public static bool HoldsRows(BlockLayout layout, Precision precision, long? rows)
    {
        if (precision != Precision.Float32 || rows is not { } m || m < 1)
        {
            return false;
        }

        var elements = MemoryBudget.Product(m, layout.Dimension);
        return elements <= Array.MaxLength && elements * 4 <= 2 * GramBytes(layout)
            && MemoryBudget.Fits(MemoryBudget.Sum(elements * 4, layout.SquareLength * 4));
    }

    /// <summary>Bytes this strategy holds besides the blocks: the kept rows (<see cref="HoldsRows"/>) or the Gram matrices.</summary>
    public static long Bytes(BlockLayout layout, Precision precision, long? rows)
        => HoldsRows(layout, precision, rows) ? rows!.Value * layout.Dimension * 4 : GramBytes(layout);

    /// <summary>Bytes held now besides the blocks: the kept rows or the Gram matrices.</summary>
    public long HeldBytes => _factors is not null ? 0 : _rowCapacity > 0 ? _rowCapacity * _layout.Dimension * 4 : GramBytes(_layout);

    /// <summary>True when the rows are kept and the Gram matrices formed at <see cref="Finish"/> (tests).</summary>
    internal bool KeepsRows => _rowCapacity > 0;

    /// <summary>Blocks of the last <see cref="Finish"/> whose float32 inverse was rejected and redone in float64 (tests).</summary>
    internal int Float64Fallbacks => _fallbacks;

    /// <summary>Blocks of the last <see cref="Finish"/> inverted in the Woodbury form (<see cref="TryInvertFewRows"/>; tests).</summary>
    internal int FewRowsInverses => _fewRows;

    /// <summary>The Gram matrices so far (tests).</summary>
    internal double[] GramForTests => _gram!;

    /// <summary>True when rows of either element type are read in place (float32 products need no float64 copy of the rows).</summary>
    public bool ReadsRowsInPlace => _precision == Precision.Float32;

    /// <summary>Gram_b += X_bᵀX_b for the n rows (n × d, row-major) of the builder's float64 panel.</summary>
    public void Accumulate(double[] rows, int n)
    {
        if (_precision == Precision.Float64)
        {
            AccumulateFloat64(rows, n);
        }
        else
        {
            Accumulate<double>(rows.AsSpan(0, n * _layout.Dimension), n);
        }
    }

    /// <summary>
    /// Gram_b += X_bᵀX_b for the n rows (n × d, row-major) read in place: float32 products with float64 panel sums
    /// (<see cref="LinearAlgebra.SymmetricRankKMixed{TSrc}"/>), so only for <see cref="Precision.Float32"/> (see
    /// <see cref="ReadsRowsInPlace"/>).
    /// </summary>
    public unsafe void Accumulate<TSrc>(ReadOnlySpan<TSrc> rows, int n)
        where TSrc : unmanaged, IFloatingPointIeee754<TSrc>
    {
        if (_precision != Precision.Float32)
        {
            throw new InvalidOperationException("Rows are read in place only by the float32 Gram.");
        }

        var layout = _layout;
        var d = layout.Dimension;
        if (_rowCapacity > 0)
        {
            if (_factors is not null || _held + n > _rowCapacity)
            {
                throw new InvalidOperationException($"The Dense strategy was sized for {_rowCapacity} rows; more were added.");
            }

            // Uninitialized: every row Finish reads is written here first, so the runtime need not zero 4·m·d bytes.
            var kept = _rows ??= GC.AllocateUninitializedArray<float>((int)(_rowCapacity * d));

            // Block-major: block b's rows are contiguous (m × c_b from m·offset_b), so each block's SYRK reads 1.6 MB in
            // order instead of c_b-wide pieces a whole gradient apart. The blocks are copied on all cores: the first
            // touch of the kept rows' pages (the kernel zeroing them) is most of this copy's cost.
            var m = kept.Length / d;
            var held = _held;
            fixed (TSrc* p = rows)
            {
                var x = new PinnedRows<TSrc>(p, rows.Length);
                BlockParallel.For(layout.Count, b =>
                {
                    var c = layout.Size(b);
                    var off = layout.Offset(b);
                    var dst = kept.AsSpan((int)(((long)m * off) + ((long)held * c)), n * c);
                    for (var r = 0; r < n; r++)
                    {
                        var src = x.Span.Slice((r * d) + off, c);
                        if (typeof(TSrc) == typeof(float))
                        {
                            System.Runtime.InteropServices.MemoryMarshal.Cast<TSrc, float>(src).CopyTo(dst.Slice(r * c, c));
                        }
                        else
                        {
                            TensorPrimitives.ConvertTruncating(src, dst.Slice(r * c, c));
                        }
                    }
                });
            }

            _held += n;
            return;
        }

        var gram = _gram ??= new double[layout.SquareLength];
        var inner = layout.Count < Environment.ProcessorCount;
        fixed (TSrc* p = rows)
        {
            var x = new PinnedRows<TSrc>(p, rows.Length);
            BlockParallel.For(layout.Count, b =>
            {
                var c = layout.Size(b);
                LinearAlgebra.SymmetricRankKMixed(true, c, n, x.Span[layout.Offset(b)..], d, gram.AsSpan((int)layout.SquareOffset(b), c * c), c, inner);
            });
        }
    }

    private void AccumulateFloat64(double[] xa, int n)
    {
        var gram = _gram ??= new double[_layout.SquareLength];
        var layout = _layout;
        var d = layout.Dimension;
        var inner = layout.Count < Environment.ProcessorCount;
        BlockParallel.For(layout.Count, b =>
        {
            var c = layout.Size(b);
            var off = layout.Offset(b);
            Gemm.Multiply(c, c, n, 1.0, StridedMatrix<double>.Transposed(xa, off, d), StridedMatrix<double>.RowMajor(xa, off, d), gram, layout.SquareOffset(b), c, lowerOnly: true, parallel: inner);
        });
    }

    /// <summary>
    /// Inverts λI + Gram/N per block into new storage on <paramref name="backend"/> and drops the Gram matrices (or the
    /// kept rows).
    /// </summary>
    /// <exception cref="BlockNotPositiveDefiniteException">A block's Cholesky failed or its inverse is not finite.</exception>
    public IBlockStorage Finish(ICurvatureBackend backend, double damping, double normalizer)
    {
        if (_rowCapacity > 0)
        {
            return FinishFromRows(backend, damping, normalizer);
        }

        var gram = _gram!;
        var layout = _layout;
        var single = layout.Count < Environment.ProcessorCount;
        BlockParallel.For(layout.Count, b =>
        {
            var c = layout.Size(b);
            var a = gram.AsSpan((int)layout.SquareOffset(b), c * c);
            using var f = new Rental<float>(_precision == Precision.Float32 ? c * c : 0);
            if (Invert(b, a, c, damping, normalizer, single, f.Array))
            {
                SimdOps.Convert<float, double>(f.Array.AsSpan(0, c * c), a);
            }
        });

        var storage = Upload(backend, layout, _precision, s => backend.Write(s, gram));
        _gram = null;
        return storage;
    }

    /// <summary>New storage filled by <paramref name="fill"/>, disposed again if that fails.</summary>
    private static IBlockStorage Upload(ICurvatureBackend backend, BlockLayout layout, Precision precision, Action<IBlockStorage> fill)
    {
        var storage = backend.Allocate(layout, precision);
        try
        {
            fill(storage);
            return storage;
        }
        catch
        {
            storage.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Each block's Gram from all kept rows (one SYRK over m, float32 products summed in float64 across panels), inverted
    /// at once and written into the blocks.
    /// </summary>
    private IBlockStorage FinishFromRows(ICurvatureBackend backend, double damping, double normalizer)
    {
        var storage = InvertBlocks(backend, damping, normalizer, (b, a, scratch) => FormGram(b, a, scratch, allowFew: true));
        Release();
        return storage;
    }

    /// <summary>
    /// λI + Gram/N of every block, the Gram put into a scratch c × c array by <paramref name="gram"/>, inverted and written
    /// into new storage: into CPU storage where its blocks lie (float32 ones inverted there), for other backends through
    /// one float64 array for <see cref="ICurvatureBackend.Write"/>.
    /// </summary>
    private IBlockStorage InvertBlocks(ICurvatureBackend backend, double damping, double normalizer, Func<int, Span<double>, float[], FewRows?> gram)
    {
        var layout = _layout;
        var single = layout.Count < Environment.ProcessorCount;
        return Upload(backend, layout, _precision, target =>
        {
            // CPU blocks are written where they lie, float32 ones inverted there (every entry is written, so recycled blocks
            // need no clearing); other backends take one float64 array.
            var direct = (target as CpuBlockStorage<float>)?.BlocksToOverwrite();
            var direct64 = direct is null ? (target as CpuBlockStorage<double>)?.BlocksToOverwrite() : null;
            var all = direct is null && direct64 is null ? new double[layout.SquareLength] : null;
            BlockParallel.For(layout.Count, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (b) =>
            {
                var c = layout.Size(b);
                using var g = new Rental<double>(c * c);
                using var f = new Rental<float>(direct is null ? c * c : 0);
                using var scratch = new Rental<float>(FactorScratchLength(c));
                var a = g.Array.AsSpan(0, c * c);
                var target = direct is null ? f.Array : direct[b];
                var inFloat32 = Invert(b, a, gram(b, a, scratch.Array), c, damping, normalizer, single, target);

                if (direct is not null)
                {
                    if (!inFloat32)
                    {
                        SimdOps.Convert<double, float>(a, direct[b]);
                    }

                    return;
                }

                var destination = direct64 is not null ? direct64[b].AsSpan() : all.AsSpan((int)layout.SquareOffset(b), c * c);
                if (inFloat32)
                {
                    SimdOps.Convert<float, double>(f.Array.AsSpan(0, c * c), destination);
                }
                else
                {
                    a.CopyTo(destination);
                }
            });

            if (all is not null)
            {
                backend.Write(target, all);
            }
        });
    }

    /// <summary>
    /// The lower triangle of <paramref name="a"/> times <paramref name="scale"/>, plus <paramref name="damping"/> on the
    /// diagonal. Optimised from the first call (once per block: too few calls for tiering to reach it in time).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Damp(Span<double> a, int c, double scale, double damping)
    {
        var w = Vector<double>.Count;
        for (var i = 0; i < c; i++)
        {
            var row = a.Slice(i * c, i + 1);
            var j = 0;
            for (; j <= row.Length - w; j += w)
            {
                (new Vector<double>(row[j..]) * scale).CopyTo(row[j..]);
            }

            for (; j < row.Length; j++)
            {
                row[j] *= scale;
            }

            row[i] += damping;
        }
    }

    /// <summary>
    /// Forms F = λI + Gram/N in <paramref name="a"/> (lower triangle) and inverts it: in float32 into
    /// <paramref name="f"/> (true) when the storage is float32 and that inverse passes its residual check, else in float64
    /// in place (false).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool Invert(int b, Span<double> a, int c, double damping, double normalizer, bool parallel, float[] f)
    {
        Damp(a, c, 1.0 / normalizer, damping);

        if (_precision == Precision.Float32 && TryInvertFloat32(a, c, f.AsSpan(0, c * c), parallel, Float32Residual(GramTrace(a, c, damping), damping)))
        {
            return true;
        }

        if (_precision == Precision.Float32)
        {
            Interlocked.Increment(ref _fallbacks);
        }

        if (!LinearAlgebra.TryCholeskyInvert(a, c, parallel))
        {
            throw new BlockNotPositiveDefiniteException(b, "Cholesky of λI + GᵀG/N failed");
        }

        return false;
    }

    /// <summary>Drops the Gram matrices (or the kept rows) without inverting them.</summary>
    public void Release()
    {
        _gram = null;
        _rows = null;
        _factors = null;
        _rowCapacity = 0;
    }
}
