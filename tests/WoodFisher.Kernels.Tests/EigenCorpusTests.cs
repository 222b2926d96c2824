namespace WoodFisher.Kernels.Tests;

/// <summary>
/// The symmetric eigensolver on matrices made by NumPy (and one Hessian made by PyTorch), against NumPy's
/// <c>eigh</c> (LAPACK dsyevd): the cases real Hessians produce and textbook hard cases.
/// </summary>
/// <remarks>
/// Tolerances: Householder tridiagonalization and implicit QL/QR are backward stable, each computed pair exact for some
/// A + E with ‖E‖ ≲ p(n)·ε·‖A‖. LAPACK's own test suite (dsyt21) accepts ‖AV − VΛ‖/(n·ε·‖A‖) and ‖VᵀV − I‖/(n·ε)
/// below 30; we ask for 10. By Weyl's inequality both solvers' eigenvalues are then within 10·n·ε·‖A‖₂ of the exact
/// ones, so they agree with each other to 20·n·ε·‖A‖₂; for graded matrices that bound is absolute, not relative to
/// each eigenvalue.
/// </remarks>
[TestFixture]
[Category("Interop")]
public class EigenCorpusTests
{
    private const double Eps = 2.220446049250313e-16;

    // Builds the corpus; each case is saved as NAME.a.f64 (n × n, row-major) and NAME.w.f64 (eigh's eigenvalues).
    private const string Script = """
        import sys, os, numpy as np
        out = sys.argv[2]
        rng = np.random.default_rng(11)
        def sym(n):
            a = rng.standard_normal((n, n)); return (a + a.T) / 2
        def orth(n):
            q, r = np.linalg.qr(rng.standard_normal((n, n))); return q * np.sign(np.diag(r))
        def spectrum(mu):
            q = orth(len(mu)); return (q * mu) @ q.T
        def wilkinson(m, sign):
            k = np.arange(-m, m + 1, dtype=float); return np.diag(np.abs(k) if sign > 0 else k) + np.diag(np.ones(2 * m), 1) + np.diag(np.ones(2 * m), -1)
        def embed_zero_rows(a, z):
            n = a.shape[0] + z; keep = np.sort(rng.choice(n, a.shape[0], replace=False))
            b = np.zeros((n, n)); b[np.ix_(keep, keep)] = a; return b
        cases = {}
        a = sym(80); dead = rng.choice(80, 20, replace=False); a[dead, :] = 0; a[:, dead] = 0; cases['zero_rows'] = a
        b = np.zeros((40, 40)); b[10:15, 10:15] = sym(5); cases['almost_zero'] = b
        cases['zero'] = np.zeros((12, 12))
        cases['repeated'] = spectrum(np.array([-1.5] * 20 + [2.0] * 30 + [7.0] * 10))
        cases['clustered'] = spectrum(np.concatenate([1 + 1e-14 * np.arange(30), rng.uniform(-3, 3, 30)]))
        cases['near_zero_cluster'] = embed_zero_rows(spectrum(np.concatenate([rng.uniform(-1e-13, 1e-13, 40), rng.uniform(0.1, 2, 40)])), 20)
        d = np.logspace(-6, 6, 60); cases['graded_entries'] = d[:, None] * sym(60) * d[None, :]
        cases['graded_spectrum'] = spectrum(np.logspace(-12, 12, 50) * rng.choice([-1, 1], 50))
        g = rng.standard_normal((90, 7)); cases['rank_deficient'] = g @ g.T
        cases['diagonal'] = np.diag(np.array([3, -1, 2, 0, 5, -4, 0, 2, 2, 1e-300, -1e-12, 1e12] * 4, dtype=float))
        t = np.diag(rng.standard_normal(50)); o = rng.standard_normal(49); o[::5] = 0; t += np.diag(o, 1) + np.diag(o, -1); t[[3, 17, 18], [3, 17, 18]] = 0
        cases['tridiagonal_split'] = t
        cases['tridiagonal_zero_diagonal'] = np.diag(np.ones(39), 1) + np.diag(np.ones(39), -1)
        cases['wilkinson_plus_21'] = wilkinson(10, +1)
        cases['wilkinson_minus_21'] = wilkinson(10, -1)
        cases['wilkinson_plus_101'] = wilkinson(50, +1)
        w = np.zeros((105, 105))
        for k in range(5):
            w[21 * k:21 * (k + 1), 21 * k:21 * (k + 1)] = wilkinson(10, +1)
            if k: w[21 * k - 1, 21 * k] = w[21 * k, 21 * k - 1] = 1e-14
        cases['glued_wilkinson'] = w
        cases['relu_hessian_dead_units'] = np.load(sys.argv[1])
        for name, a in cases.items():
            a = np.ascontiguousarray(a, dtype='<f8')
            a.tofile(os.path.join(out, name + '.a.f64'))
            np.linalg.eigh(a)[0].astype('<f8').tofile(os.path.join(out, name + '.w.f64'))
        """;

    private DirectoryInfo? _dir;
    private bool _haveNumPy;

    [OneTimeSetUp]
    public void BuildCorpus()
    {
        _dir = Directory.CreateTempSubdirectory("wf-eigen-corpus-");
        var hessian = Path.Combine(TestContext.CurrentContext.TestDirectory, "Data", "relu_hessian_dead_units.npy");
        _haveNumPy = EigenReferences.RunPython(Script, hessian, _dir.FullName);
    }

    [OneTimeTearDown]
    public void RemoveCorpus() => _dir?.Delete(recursive: true);

    [TestCase("zero_rows")]
    [TestCase("almost_zero")]
    [TestCase("zero")]
    [TestCase("repeated")]
    [TestCase("clustered")]
    [TestCase("near_zero_cluster")]
    [TestCase("graded_entries")]
    [TestCase("graded_spectrum")]
    [TestCase("rank_deficient")]
    [TestCase("diagonal")]
    [TestCase("tridiagonal_split")]
    [TestCase("tridiagonal_zero_diagonal")]
    [TestCase("wilkinson_plus_21")]
    [TestCase("wilkinson_minus_21")]
    [TestCase("wilkinson_plus_101")]
    [TestCase("glued_wilkinson")]
    [TestCase("relu_hessian_dead_units")]
    public void Decomposition_IsBackwardStable_AndAgreesWithNumPyEigh(string name)
    {
        if (!_haveNumPy)
        {
            Assert.Ignore("/usr/bin/python3 with numpy is not available.");
        }

        var a = ReadDoubles(name + ".a.f64");
        var expected = ReadDoubles(name + ".w.f64");
        var n = expected.Length;
        var values = new double[n];
        var vectors = new double[n * n];
        LinearAlgebra.SymmetricEigen(a, n, values, vectors);

        var norm2 = expected.Length == 0 ? 0 : Math.Max(Math.Abs(expected[0]), Math.Abs(expected[^1]));
        var (residual, normF, orthogonality) = Residuals(a, n, values, vectors);
        var bound = 10 * n * Eps;
        Assert.Multiple(() =>
        {
            Assert.That(residual, Is.LessThanOrEqualTo(bound * Math.Max(normF, double.Epsilon)), "‖AV − VΛ‖_F");
            Assert.That(orthogonality, Is.LessThanOrEqualTo(bound), "‖VᵀV − I‖_F");
            Assert.That(values, Is.Ordered);
            for (var i = 0; i < n; i++)
            {
                Assert.That(values[i], Is.EqualTo(expected[i]).Within(2 * bound * norm2), $"λ{i}");
            }
        });
    }

    [Test]
    public void ReluHessian_HasTheZeroRowsOfItsDeadUnits()
    {
        // The file's reason to exist: a PyTorch-trained 784-12-8-10 net whose dead units zero whole rows of H (fc2, fc3).
        var path = Path.Combine(TestContext.CurrentContext.TestDirectory, "Data", "relu_hessian_dead_units.npy");
        var bytes = File.ReadAllBytes(path);
        var headerEnd = 10 + BitConverter.ToUInt16(bytes, 8);
        var h = new double[(bytes.Length - headerEnd) / 8];
        Buffer.BlockCopy(bytes, headerEnd, h, 0, h.Length * 8);
        var n = (int)Math.Sqrt(h.Length);
        var zeroRows = Enumerable.Range(0, n).Count(i => h.AsSpan(i * n, n).IndexOfAnyExcept(0.0) < 0);
        var values = new double[n];
        LinearAlgebra.SymmetricEigenvalues(h, n, values);
        Assert.Multiple(() =>
        {
            Assert.That(n, Is.EqualTo(176));
            Assert.That(zeroRows, Is.EqualTo(69));
            Assert.That(values.Count(v => v == 0), Is.GreaterThanOrEqualTo(zeroRows), "a zero row is an exact zero eigenvalue");
        });
    }

    private double[] ReadDoubles(string file)
    {
        var bytes = File.ReadAllBytes(Path.Combine(_dir!.FullName, file));
        var x = new double[bytes.Length / 8];
        Buffer.BlockCopy(bytes, 0, x, 0, bytes.Length);
        return x;
    }

    private static (double Residual, double NormF, double Orthogonality) Residuals(double[] a, int n, double[] values, double[] vectors)
    {
        double res = 0, norm = 0, orth = 0;
        var av = new double[n];
        for (var j = 0; j < n; j++)
        {
            Array.Clear(av);
            for (var i = 0; i < n; i++)
            {
                double s = 0;
                for (var k = 0; k < n; k++)
                {
                    s += a[(i * n) + k] * vectors[(k * n) + j];
                }

                av[i] = s - (vectors[(i * n) + j] * values[j]);
                norm += a[(i * n) + j] * a[(i * n) + j];
            }

            res += av.Sum(x => x * x);
            for (var p = 0; p < n; p++)
            {
                double o = 0;
                for (var k = 0; k < n; k++)
                {
                    o += vectors[(k * n) + p] * vectors[(k * n) + j];
                }

                o -= p == j ? 1 : 0;
                orth += o * o;
            }
        }

        return (Math.Sqrt(res), Math.Sqrt(norm), Math.Sqrt(orth));
    }
}
