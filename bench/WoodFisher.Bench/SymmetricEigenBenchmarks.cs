using BenchmarkDotNet.Attributes;
using WoodFisher.Kernels;

namespace WoodFisher.Bench;

/// <summary>
/// Question: what does a dense symmetric eigen-decomposition (the exact-Hessian estimator's cost) take against the
/// Cholesky inverse of a matrix of the same size, and how much do the eigenvectors add to the eigenvalues alone?
/// One core, float64, a random symmetric (indefinite) matrix; the SPD inverse runs on A + (1 − λmin)I.
/// </summary>
[MemoryDiagnoser]
public class SymmetricEigenBenchmarks
{
    private double[] _a = [];
    private double[] _spd = [];
    private double[] _work = [];
    private double[] _values = [];
    private double[] _vectors = [];

    [Params(250, 500, 1000)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        _a = new double[N * N];
        for (var i = 0; i < N; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                _a[(i * N) + j] = _a[(j * N) + i] = (2 * rng.NextDouble()) - 1;
            }
        }

        _values = new double[N];
        _vectors = new double[N * N];
        _work = new double[N * N];
        LinearAlgebra.SymmetricEigenvalues(_a, N, _values);
        _spd = (double[])_a.Clone();
        for (var i = 0; i < N; i++)
        {
            _spd[(i * N) + i] += 1 - _values[0];
        }
    }

    [Benchmark(Baseline = true)]
    public double CholeskyInvert()
    {
        _spd.CopyTo(_work, 0);
        LinearAlgebra.CholeskyInvert(_work, N);
        return _work[0];
    }

    [Benchmark]
    public double EigenvaluesOnly()
    {
        LinearAlgebra.SymmetricEigenvalues(_a, N, _values);
        return _values[0];
    }

    [Benchmark]
    public double EigenvaluesAndVectors()
    {
        LinearAlgebra.SymmetricEigen(_a, N, _values, _vectors);
        return _vectors[0];
    }

    [Benchmark]
    public double EigenThenReconstructInverse()
    {
        LinearAlgebra.SymmetricEigen(_a, N, _values, _vectors);
        var shift = 1 - _values[0];
        for (var i = 0; i < N; i++)
        {
            _values[i] = 1 / (_values[i] + shift);
        }

        LinearAlgebra.ReconstructFromEigen(_vectors, _values, N, _work);
        return _work[0];
    }
}
