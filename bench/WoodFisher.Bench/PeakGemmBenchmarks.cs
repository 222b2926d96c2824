using BenchmarkDotNet.Attributes;
using WoodFisher.Kernels;

namespace WoodFisher.Bench;

/// <summary>
/// Question: what is this machine's sgemm-class peak, and how close does the library's blocked GEMM get?
/// <see cref="MicroKernelPeak"/> returns GFLOP/s of the register-tile kernel on L1-resident panels (all cores);
/// <see cref="BlockedGemm"/> times a full n³ product (2n³ flops).
/// </summary>
[MemoryDiagnoser]
public class PeakGemmBenchmarks
{
    private float[] _a = [];
    private float[] _b = [];
    private float[] _c = [];

    [Params(512, 1024)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(2);
        _a = new float[N * N];
        _b = new float[N * N];
        _c = new float[N * N];
        for (var i = 0; i < _a.Length; i++)
        {
            _a[i] = (float)rng.NextDouble();
            _b[i] = (float)rng.NextDouble();
        }
    }

    [Benchmark]
    public double MicroKernelPeak() => KernelBenchmark.MeasurePeakGflops(Precision.Float32, 0.05);

    [Benchmark]
    public void BlockedGemm()
        => Gemm.Multiply(N, N, N, 1f, StridedMatrix<float>.RowMajor(_a, 0, N), StridedMatrix<float>.RowMajor(_b, 0, N), _c, 0, N, parallel: true);
}
