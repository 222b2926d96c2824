using BenchmarkDotNet.Attributes;
using WoodFisher.Kernels;

namespace WoodFisher.Bench;

/// <summary>Question: how fast is each Woodbury strategy against a plain dense inverse, per (c, m)? d = 2c (two blocks).</summary>
[MemoryDiagnoser]
public class WoodburyStrategyBenchmarks
{
    private float[] _g = [];
    private double[] _gd = [];

    [Params(128, 512)]
    public int C { get; set; }

    [Params(256, 1024)]
    public int M { get; set; }

    private int D => 2 * C;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        _g = new float[M * D];
        _gd = new double[M * D];
        for (var i = 0; i < _g.Length; i++)
        {
            _g[i] = (float)((rng.NextDouble() * 2) - 1);
            _gd[i] = _g[i];
        }
    }

    private double Build(WoodburyStrategy s)
    {
        var options = new WoodFisherOptions { BlockSize = C, Damping = 1e-3, Strategy = s, Backend = BackendKind.Cpu };
        using var inv = WoodFisherBuilder.Compute(_g, M, D, options);
        return inv.Diagonal()[0];
    }

    [Benchmark]
    public double Rank1() => Build(WoodburyStrategy.Rank1);

    [Benchmark]
    public double RankK() => Build(WoodburyStrategy.RankK);

    [Benchmark]
    public double Dense() => Build(WoodburyStrategy.Dense);

    /// <summary>Baseline: per block, a naive triple-loop Gram λI + GᵀG/N and a Gauss–Jordan inverse (no SIMD, no blocking).</summary>
    [Benchmark(Baseline = true)]
    public double PlainDenseInverse()
    {
        var acc = 0.0;
        for (var b = 0; b < D / C; b++)
        {
            var a = new double[C * C];
            for (var i = 0; i < C; i++)
            {
                for (var j = 0; j < C; j++)
                {
                    var s = 0.0;
                    for (var r = 0; r < M; r++)
                    {
                        s += _gd[(r * D) + (b * C) + i] * _gd[(r * D) + (b * C) + j];
                    }

                    a[(i * C) + j] = (s / M) + (i == j ? 1e-3 : 0);
                }
            }

            acc += GaussJordanTrace(a, C);
        }

        return acc;
    }

    private static double GaussJordanTrace(double[] m, int n)
    {
        var inv = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            inv[(i * n) + i] = 1;
        }

        for (var col = 0; col < n; col++)
        {
            var p = m[(col * n) + col];
            for (var j = 0; j < n; j++)
            {
                m[(col * n) + j] /= p;
                inv[(col * n) + j] /= p;
            }

            for (var r = 0; r < n; r++)
            {
                if (r != col)
                {
                    var f = m[(r * n) + col];
                    for (var j = 0; j < n; j++)
                    {
                        m[(r * n) + j] -= f * m[(col * n) + j];
                        inv[(r * n) + j] -= f * inv[(col * n) + j];
                    }
                }
            }
        }

        return inv[0];
    }
}
