using BenchmarkDotNet.Attributes;
using WoodFisher.Kernels;

namespace WoodFisher.Bench;

/// <summary>
/// Question: what is this machine's sgemm-class peak, and how close does the library's blocked GEMM get?
/// <see cref="MicroKernel"/> times <see cref="KernelCalls"/> calls of the 6 × 2W register-tile kernel on L1-resident
/// panels (kc = 256) on one core: GFLOP/s = 2·6·2W·256·calls / time (W = 16 floats with AVX-512, 8 with AVX2).
/// <see cref="BlockedGemm"/> times a full n × n × n product on all cores (2n³ flops).
/// </summary>
[MemoryDiagnoser]
public class PeakGemmBenchmarks
{
    public const int KernelCalls = 10_000;
    private const int Kc = 256;
    private float[] _a = [];
    private float[] _pa = [];
    private float[] _pb = [];
    private float[] _pc = [];
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
        _pa = Enumerable.Repeat(1e-3f, Gemm.MR * Kc).ToArray();
        _pb = Enumerable.Repeat(1e-3f, Gemm.NR<float>() * Kc).ToArray();
        _pc = new float[Gemm.MR * Gemm.NR<float>()];
        for (var i = 0; i < _a.Length; i++)
        {
            _a[i] = (float)rng.NextDouble();
            _b[i] = (float)rng.NextDouble();
        }
    }

    [Benchmark(OperationsPerInvoke = KernelCalls)]
    public void MicroKernel()
    {
        var nr = Gemm.NR<float>();
        for (var i = 0; i < KernelCalls; i++)
        {
            if (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
            {
                Gemm.Kernel512<float>(_pa, _pb, Kc, ref _pc[0], nr, 1f, Gemm.MR, nr);
            }
            else
            {
                Gemm.Kernel256<float>(_pa, _pb, Kc, ref _pc[0], nr, 1f, Gemm.MR, nr);
            }
        }
    }

    [Benchmark]
    public void BlockedGemm()
        => Gemm.Multiply(N, N, N, 1f, StridedMatrix<float>.RowMajor(_a, 0, N), StridedMatrix<float>.RowMajor(_b, 0, N), _c, 0, N, parallel: true);
}
