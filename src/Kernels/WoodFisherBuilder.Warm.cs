namespace WoodFisher.Kernels;

/// <summary>Compiling the CPU Dense strategy's code ahead of the first inverse.</summary>
public sealed partial class WoodFisherBuilder
{
    /// <summary>
    /// Builds and drops two small CPU Dense inverses from factors in blocks of <paramref name="blockSize"/>: one whose
    /// blocks few enough rows reach for the Woodbury form, one whose blocks take the Gram and the Cholesky inverse. The
    /// JIT compiles a method on the thread that first calls it, so the first real inverse would otherwise hold its
    /// workers while its kernels compile (about 0.15 s of JIT time for the model-mode prune's inverse); a job can run
    /// this on an otherwise idle core while it loads its data. It allocates two blocks and computes about 4c³ flops.
    /// </summary>
    public static void Warm(int blockSize, Precision precision = Precision.Float32) => WarmForms(blockSize, precision);

    /// <summary>As <see cref="Warm"/>; returns how many blocks of each build took the Woodbury form.</summary>
    internal static int[] WarmForms(int blockSize, Precision precision)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        var forms = new List<int>();
        var d = 2 * blockSize;
        var options = new WoodFisherOptions
        {
            BlockSize = blockSize,
            Damping = 1e-3,
            Strategy = WoodburyStrategy.Dense,
            Precision = precision,
            Backend = BackendKind.Cpu,
        };
        foreach (var m in new[] { DenseStrategy.FewRowsMax(blockSize) + 1, Math.Max(2, blockSize / 2) })
        {
            // Deterministic rows, every seventh zero from the first (the Dense strategy drops those, so the first build's
            // blocks keep at most FewRowsMax rows): any values do, only the code paths matter.
            var rows = new float[m * d];
            var state = 0x2545F491u;
            for (var i = 0; i < rows.Length; i++)
            {
                state = (state * 1664525u) + 1013904223u;
                rows[i] = (i / d) % 7 == 0 ? 0f : ((state >> 8) * (1f / (1 << 24))) - 0.5f;
            }

            using var builder = new WoodFisherBuilder(d, options, m);
            var factors = new RowMajorFactors(rows, m, d);
            if (builder.TakesFactors)
            {
                builder.AddFactors(factors);
            }
            else
            {
                builder.Add(rows, m);
            }

            var dense = builder._dense;
            using var inverse = builder.Build();
            forms.Add(dense?.FewRowsInverses ?? 0);
        }

        return [.. forms];
    }
}
