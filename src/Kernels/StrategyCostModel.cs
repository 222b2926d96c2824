using System.Globalization;
using System.Text;
using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels;

/// <summary>
/// The cost model behind <see cref="WoodburyStrategy.Auto"/>: the flops each strategy executes for (c, m), divided by the
/// rate its kernels reach on this machine, and the cheapest strategy whose memory fits <see cref="MemoryBudget"/>.
/// </summary>
/// <remarks>
/// <para>Executed flops per block of size c for m gradients:
/// Rank1 4c²m; RankK c²k₀ + 2ck₀² + k₀³/3 for the first panel of a fresh block (k₀ = min(m, max(k, min(c/2, 256))),
/// its U = σGₖ is free) and 3c²k + 2ck² + k³/3 for every further panel of k rows (k from the CPU backend's panel rule);
/// Dense c²m for the lower half of the Gram plus c³ for the Cholesky inverse (factor, triangular inverse and L⁻ᵀL⁻¹,
/// c³/3 each).</para>
/// <para>Rates are efficiencies: a share of the float32 FMA micro-kernel peak
/// (<see cref="KernelBenchmark.MeasurePeakGflops"/>), tabulated at a few block sizes and interpolated in log c. Because
/// every strategy's rate scales with the same peak, the choice depends only on these shares, which
/// <see cref="KernelBenchmark.CalibrateCostModel"/> measures (<c>woodfisher bench --calibrate</c> prints a fresh table).</para>
/// </remarks>
public sealed class StrategyCostModel
{
    private readonly int[] _sizes;
    private readonly double[] _rank1;
    private readonly double[] _rankK;
    private readonly double[] _gram32;
    private readonly double[] _gram64;
    private readonly double[] _inverse;

    /// <summary>Creates a model from efficiencies (shares of the float32 peak, in (0, 1]) at ascending block sizes.</summary>
    /// <param name="blockSizes">Ascending block sizes c at which the efficiencies were measured.</param>
    /// <param name="rank1">Rank-one updates, float32 storage.</param>
    /// <param name="rankK">Rank-k updates, float32 storage.</param>
    /// <param name="gram32">The float32-product Gram from all m rows (Dense, float32 storage).</param>
    /// <param name="gram64">The float64 Gram (Dense, float64 storage).</param>
    /// <param name="inverse">The float32 Cholesky inverse of one c × c block (float64 storage: half this rate).</param>
    public StrategyCostModel(int[] blockSizes, double[] rank1, double[] rankK, double[] gram32, double[] gram64, double[] inverse)
    {
        ArgumentNullException.ThrowIfNull(blockSizes);
        _sizes = blockSizes;
        _rank1 = Check(rank1, nameof(rank1));
        _rankK = Check(rankK, nameof(rankK));
        _gram32 = Check(gram32, nameof(gram32));
        _gram64 = Check(gram64, nameof(gram64));
        _inverse = Check(inverse, nameof(inverse));
        for (var i = 0; i < blockSizes.Length; i++)
        {
            if (blockSizes[i] < 1 || (i > 0 && blockSizes[i] <= blockSizes[i - 1]))
            {
                throw new ArgumentException("Block sizes must be positive and ascending.", nameof(blockSizes));
            }
        }
    }

    /// <summary>
    /// Measured on this project's 2-core Intel Xeon (Sapphire Rapids, AVX-512) with
    /// <c>DOTNET_PROCESSOR_COUNT=1 woodfisher bench --calibrate</c> (one block per kernel on one core, CPU time): the
    /// largest of three runs per entry, the machine being shared (load average 30–35); see docs/performance.md.
    /// </summary>
    public static StrategyCostModel Default { get; } = new(
        [32, 64, 128, 256, 512, 1024],
        rank1: [0.030, 0.074, 0.117, 0.120, 0.135, 0.097],
        rankK: [0.013, 0.085, 0.178, 0.288, 0.374, 0.438],
        gram32: [0.047, 0.175, 0.122, 0.261, 0.368, 0.460],
        gram64: [0.073, 0.146, 0.172, 0.257, 0.227, 0.269],
        inverse: [0.013, 0.043, 0.093, 0.151, 0.234, 0.307]);

    /// <summary>The block sizes of the table.</summary>
    public IReadOnlyList<int> BlockSizes => _sizes;

    /// <summary>
    /// Flops the strategy executes on one block of size c for m gradients (see the class remarks); for Dense, the Gram
    /// and inverse parts.
    /// </summary>
    public static (double Updates, double Inverse) Flops(WoodburyStrategy strategy, int blockSize, long rows)
    {
        double c = blockSize;
        double m = rows;
        switch (strategy)
        {
            case WoodburyStrategy.Rank1:
                return (4 * c * c * m, 0);
            case WoodburyStrategy.Dense:
                return (c * c * m, c * c * c);
            case WoodburyStrategy.RankK:
                {
                    var k0 = (double)Math.Min(rows, Math.Max(RankKUpdate<float>.Panel(blockSize, (int)Math.Min(rows, int.MaxValue)), Math.Min(blockSize / 2, 256)));
                    var flops = (c * c * k0) + (2 * c * k0 * k0) + (k0 * k0 * k0 / 3);
                    var rest = m - k0;
                    if (rest > 0)
                    {
                        double k = RankKUpdate<float>.Panel(blockSize, (int)Math.Min(rest, int.MaxValue));
                        flops += rest * ((3 * c * c) + (2 * c * k) + (k * k / 3));
                    }

                    return (flops, 0);
                }

            default:
                throw new ArgumentOutOfRangeException(nameof(strategy), strategy, "Auto has no cost of its own.");
        }
    }

    /// <summary>Modelled time of one block in units of 1/peak (seconds × float32 peak FLOP/s).</summary>
    public double Cost(WoodburyStrategy strategy, int blockSize, long rows, Precision precision)
    {
        var (updates, inverse) = Flops(strategy, blockSize, rows);
        return strategy switch
        {
            WoodburyStrategy.Rank1 => updates / (Rate(_rank1, blockSize) * PrecisionFactor(precision)),
            WoodburyStrategy.RankK => updates / (Rate(_rankK, blockSize) * PrecisionFactor(precision)),
            _ => (updates / Rate(precision == Precision.Float32 ? _gram32 : _gram64, blockSize)) + (inverse / (Rate(_inverse, blockSize) * PrecisionFactor(precision))),
        };
    }

    /// <summary>Modelled time of a whole layout, in units of 1/peak.</summary>
    public double Cost(WoodburyStrategy strategy, BlockLayout layout, long rows, Precision precision)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var total = 0.0;
        var sizes = new Dictionary<int, int>();
        for (var b = 0; b < layout.Count; b++)
        {
            sizes[layout.Size(b)] = sizes.GetValueOrDefault(layout.Size(b)) + 1;
        }

        foreach (var (c, count) in sizes)
        {
            total += count * Cost(strategy, c, rows, precision);
        }

        return total;
    }

    /// <summary>
    /// The cheapest of Rank1, RankK and Dense for m gradients on <paramref name="layout"/>; a strategy whose memory
    /// (<see cref="WoodFisherBuilder.EstimateBytes"/>) exceeds <see cref="MemoryBudget"/> is passed over while another fits.
    /// </summary>
    public WoodburyStrategy Choose(BlockLayout layout, long rows, Precision precision, Func<WoodburyStrategy, long>? bytes = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        WoodburyStrategy[] candidates = [WoodburyStrategy.RankK, WoodburyStrategy.Dense, WoodburyStrategy.Rank1];
        var fitting = bytes is null ? candidates : candidates.Where(s => MemoryBudget.Fits(bytes(s))).ToArray();
        if (fitting.Length == 0)
        {
            fitting = candidates;
        }

        var best = fitting[0];
        var bestCost = double.PositiveInfinity;
        foreach (var s in fitting)
        {
            var cost = Cost(s, layout, rows, precision);
            if (cost < bestCost)
            {
                (best, bestCost) = (s, cost);
            }
        }

        return best;
    }

    /// <summary>The model as C# source of a <see cref="StrategyCostModel"/> constructor call (what --calibrate prints).</summary>
    public string ToSource()
    {
        var inv = CultureInfo.InvariantCulture;
        string Row(double[] v) => "[" + string.Join(", ", v.Select(x => x.ToString("0.000", inv))) + "]";
        var sb = new StringBuilder();
        sb.AppendLine("new StrategyCostModel(");
        sb.AppendLine(inv, $"    [{string.Join(", ", _sizes)}],");
        sb.AppendLine(inv, $"    rank1: {Row(_rank1)},");
        sb.AppendLine(inv, $"    rankK: {Row(_rankK)},");
        sb.AppendLine(inv, $"    gram32: {Row(_gram32)},");
        sb.AppendLine(inv, $"    gram64: {Row(_gram64)},");
        sb.Append(inv, $"    inverse: {Row(_inverse)})");
        return sb.ToString();
    }

    // Float64 Woodbury updates and inverses run at half the float32 SIMD width.
    private static double PrecisionFactor(Precision precision) => precision == Precision.Float32 ? 1.0 : 0.5;

    private double Rate(double[] table, int c)
    {
        if (c <= _sizes[0])
        {
            return table[0] * c / _sizes[0];
        }

        if (c >= _sizes[^1])
        {
            return table[^1];
        }

        var i = 1;
        while (_sizes[i] < c)
        {
            i++;
        }

        var t = (Math.Log(c) - Math.Log(_sizes[i - 1])) / (Math.Log(_sizes[i]) - Math.Log(_sizes[i - 1]));
        return table[i - 1] + (t * (table[i] - table[i - 1]));
    }

    private double[] Check(double[] values, string name)
    {
        ArgumentNullException.ThrowIfNull(values, name);
        if (values.Length != _sizes.Length || values.Any(v => !(v > 0) || !double.IsFinite(v)))
        {
            throw new ArgumentException($"{name} needs one positive, finite efficiency per block size ({_sizes.Length}).", name);
        }

        return values;
    }
}
