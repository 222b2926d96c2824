using BenchmarkDotNet.Attributes;
using WoodFisher.Kernels;

namespace WoodFisher.Bench;

/// <summary>
/// Question: how fast is the ILGPU rank-k Woodbury update over all blocks (on the best ILGPU accelerator: CUDA,
/// OpenCL, else the CPU accelerator) against a naive dense baseline that forms λI + GᵀG/N per block and inverts it
/// by Cholesky on one core? Small on purpose: ILGPU's CPU accelerator emulates GPU threads and is slow. The ILGPU timings include uploading G and the final synchronisation, not block readback.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 1, iterationCount: 5)]
public class IlgpuBenchmarks
{
    private const double Damping = 1e-3;

    private ICurvatureBackend _backend = null!;
    private IBlockStorage _storage = null!;
    private BlockLayout _layout = null!;
    private double[] _gradients = [];

    /// <summary>Block size c.</summary>
    [Params(32, 64)]
    public int BlockSize { get; set; }

    /// <summary>Number of gradients m.</summary>
    [Params(64)]
    public int Rows { get; set; }

    /// <summary>Dimension d.</summary>
    public int Dimension { get; set; } = 1024;

    [GlobalSetup]
    public void Setup()
    {
        _layout = BlockLayout.Create(Dimension, BlockSize);
        var rng = new Random(42);
        _gradients = new double[Rows * Dimension];
        for (var i = 0; i < _gradients.Length; i++)
        {
            _gradients[i] = (rng.NextDouble() * 2) - 1;
        }

        _backend = IlgpuBackendFactory.Create();
        _storage = _backend.Allocate(_layout, Precision.Float32);
        Console.WriteLine($"// ILGPU backend: {_backend.Name}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _storage.Dispose();
        _backend.Dispose();
    }

    [Benchmark(Description = "ILGPU rank-k (f32)")]
    public void IlgpuRankK()
    {
        _backend.SetScaledIdentity(_storage, 1 / Damping);
        _backend.RankKUpdate(_storage, _gradients, Rows, Rows);
    }

    [Benchmark(Baseline = true, Description = "naive dense Cholesky inverse (f64, 1 core)")]
    public double DenseInverse()
    {
        var checksum = 0.0;
        for (var b = 0; b < _layout.Count; b++)
        {
            var c = _layout.Size(b);
            var off = _layout.Offset(b);
            var a = new double[c * c];
            for (var i = 0; i < c; i++)
            {
                a[(i * c) + i] = Damping;
            }

            for (var r = 0; r < Rows; r++)
            {
                var row = _gradients.AsSpan((r * Dimension) + off, c);
                for (var i = 0; i < c; i++)
                {
                    for (var j = 0; j <= i; j++)
                    {
                        a[(i * c) + j] += row[i] * row[j] / Rows;
                    }
                }
            }

            checksum += InvertLowerCholesky(a, c);
        }

        return checksum;
    }

    // Factor A = LLᵀ, then solve for each unit vector: A⁻¹ column by column; returns the trace as a checksum.
    private static double InvertLowerCholesky(double[] a, int n)
    {
        for (var j = 0; j < n; j++)
        {
            var d = a[(j * n) + j];
            for (var p = 0; p < j; p++)
            {
                d -= a[(j * n) + p] * a[(j * n) + p];
            }

            var l = Math.Sqrt(d);
            a[(j * n) + j] = l;
            for (var i = j + 1; i < n; i++)
            {
                var s = a[(i * n) + j];
                for (var p = 0; p < j; p++)
                {
                    s -= a[(i * n) + p] * a[(j * n) + p];
                }

                a[(i * n) + j] = s / l;
            }
        }

        var x = new double[n];
        var trace = 0.0;
        for (var col = 0; col < n; col++)
        {
            Array.Clear(x);
            x[col] = 1;
            for (var i = 0; i < n; i++)
            {
                var s = x[i];
                for (var p = 0; p < i; p++)
                {
                    s -= a[(i * n) + p] * x[p];
                }

                x[i] = s / a[(i * n) + i];
            }

            for (var i = n - 1; i >= 0; i--)
            {
                var s = x[i];
                for (var p = i + 1; p < n; p++)
                {
                    s -= a[(p * n) + i] * x[p];
                }

                x[i] = s / a[(i * n) + i];
            }

            trace += x[col];
        }

        return trace;
    }
}
