using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace WoodFisher.Kernels;

public static partial class LinearAlgebra
{
    /// <summary>Sweeps allowed per eigenvalue, pooled over the whole matrix: two or three are typical.</summary>
    private const int QlSweepsPerEigenvalue = 30;

    /// <summary>ε = 2⁻⁵³, the unit roundoff of float64.</summary>
    private const double Eps = 1.1102230246251565e-16;

    private const double Eps2 = Eps * Eps;

    /// <summary>The smallest normal float64: the absolute floor under which an off-diagonal is zero whatever its neighbours.</summary>
    private const double SafeMin = 2.2250738585072014e-308;

    /// <summary>Blocks whose max-norm lies outside [ScaleLow, ScaleHigh] are rescaled so that squares neither overflow nor underflow.</summary>
    private static readonly double ScaleHigh = Math.Sqrt(1 / SafeMin) / 3;

    private static readonly double ScaleLow = Math.Sqrt(SafeMin) / Eps2;

    /// <summary>
    /// Eigenvalues (and, with <paramref name="z"/>, eigenvectors) of the symmetric tridiagonal (d, e), e[i] coupling i and
    /// i+1, by implicit QL or QR with Wilkinson shifts, after the criteria of LAPACK's dsteqr:
    /// <list type="bullet">
    /// <item>the matrix is first split into unreduced blocks wherever |eᵢ| ≤ ε·√|dᵢ|·√|dᵢ₊₁| (exact zeros included, so
    /// the zero rows of dead units and a zero matrix cost nothing), and each block is rescaled when its norm is near
    /// overflow or underflow;</item>
    /// <item>within a block, eₘ is negligible when eₘ² ≤ ε²|dₘ||dₘ₊₁| + SafeMin: relative to its own neighbours, so
    /// a cluster of eigenvalues within 10⁻¹² of zero deflates on its own scale rather than on the matrix's;</item>
    /// <item>a block is chased by QL (bottom to top) when its bottom diagonal entry is the larger, else by QR, so graded
    /// matrices converge from their small end; 2 × 2 blocks are solved in closed form;</item>
    /// <item>the sweep budget, 30·n, is shared by all eigenvalues rather than 30 each.</item>
    /// </list>
    /// Rotations are applied to rows of <paramref name="z"/> (rows are the transposed eigenvector basis, so contiguous).
    /// On return d holds the eigenvalues (unsorted) and row r of z the eigenvector of d[r].
    /// </summary>
    /// <exception cref="EigenNotConvergedException">The sweep budget ran out with an off-diagonal still coupled.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TridiagonalQl(Span<double> d, Span<double> e, int n, double[]? z)
    {
        if (n <= 1)
        {
            return;
        }

        e[n - 1] = 0;
        var budget = QlSweepsPerEigenvalue * n;
        var sweeps = 0;
        var start = 0;
        while (start < n)
        {
            if (start > 0)
            {
                e[start - 1] = 0;
            }

            var end = start;
            for (; end < n - 1; end++)
            {
                var t = Math.Abs(e[end]);
                if (t == 0)
                {
                    break;
                }

                if (t <= Math.Sqrt(Math.Abs(d[end])) * Math.Sqrt(Math.Abs(d[end + 1])) * Eps)
                {
                    e[end] = 0;
                    break;
                }
            }

            var first = start;
            start = end + 1;
            if (end == first)
            {
                continue;
            }

            var db = d[first..(end + 1)];
            var eb = e[first..end];
            var norm = Math.Max(Math.Abs(TensorPrimitives.MaxMagnitude<double>(db)), Math.Abs(TensorPrimitives.MaxMagnitude<double>(eb)));
            if (norm == 0)
            {
                continue;
            }

            var scale = norm > ScaleHigh ? ScaleHigh / norm : norm < ScaleLow ? ScaleLow / norm : 1.0;
            if (scale != 1)
            {
                TensorPrimitives.Multiply(db, scale, db);
                TensorPrimitives.Multiply(eb, scale, eb);
            }

            if (Math.Abs(d[end]) >= Math.Abs(d[first]))
            {
                QlBlock(d, e, first, end, z, n, ref sweeps, budget);
            }
            else
            {
                QrBlock(d, e, end, first, z, n, ref sweeps, budget);
            }

            if (scale != 1)
            {
                TensorPrimitives.Multiply(db, 1 / scale, db);
                TensorPrimitives.Multiply(eb, 1 / scale, eb);
            }

            if (sweeps >= budget)
            {
                for (var i = 0; i < n - 1; i++)
                {
                    if (e[i] != 0)
                    {
                        throw new EigenNotConvergedException(i, sweeps);
                    }
                }
            }
        }
    }

    /// <summary>QL on the unreduced block l…lend (l &lt; lend): deflates eigenvalues from the top, chasing bulges upwards.</summary>
    private static void QlBlock(Span<double> d, Span<double> e, int l, int lend, double[]? z, int n, ref int sweeps, int budget)
    {
        while (l <= lend)
        {
            var m = l;
            for (; m < lend; m++)
            {
                if (Negligible(e[m], d[m], d[m + 1]))
                {
                    break;
                }
            }

            if (m < lend)
            {
                e[m] = 0;
            }

            if (m == l)
            {
                l++;
                continue;
            }

            if (m == l + 1)
            {
                SolveTwoByTwo(d, e, l, z, n);
                l += 2;
                continue;
            }

            if (sweeps == budget)
            {
                return;
            }

            sweeps++;
            var p = d[l];
            var g = (d[l + 1] - p) / (2 * e[l]);
            var r = double.Hypot(g, 1);
            g = d[m] - p + (e[l] / (g + double.CopySign(r, g)));
            double s = 1, c = 1;
            p = 0;
            for (var i = m - 1; i >= l; i--)
            {
                var f = s * e[i];
                var b = c * e[i];
                (c, s, r) = Givens(g, f);
                if (i != m - 1)
                {
                    e[i + 1] = r;
                }

                g = d[i + 1] - p;
                r = ((d[i] - g) * s) + (2 * c * b);
                p = s * r;
                d[i + 1] = g + p;
                g = (c * r) - b;
                if (z is not null)
                {
                    Rotate(z.AsSpan(i * n, n), z.AsSpan((i + 1) * n, n), c, s);
                }
            }

            d[l] -= p;
            e[l] = g;
        }
    }

    /// <summary>QR on the unreduced block lend…l (lend &lt; l): the mirror of <see cref="QlBlock"/>, deflating from the bottom.</summary>
    private static void QrBlock(Span<double> d, Span<double> e, int l, int lend, double[]? z, int n, ref int sweeps, int budget)
    {
        while (l >= lend)
        {
            var m = l;
            for (; m > lend; m--)
            {
                if (Negligible(e[m - 1], d[m], d[m - 1]))
                {
                    break;
                }
            }

            if (m > lend)
            {
                e[m - 1] = 0;
            }

            if (m == l)
            {
                l--;
                continue;
            }

            if (m == l - 1)
            {
                SolveTwoByTwo(d, e, l - 1, z, n);
                l -= 2;
                continue;
            }

            if (sweeps == budget)
            {
                return;
            }

            sweeps++;
            var p = d[l];
            var g = (d[l - 1] - p) / (2 * e[l - 1]);
            var r = double.Hypot(g, 1);
            g = d[m] - p + (e[l - 1] / (g + double.CopySign(r, g)));
            double s = 1, c = 1;
            p = 0;
            for (var i = m; i < l; i++)
            {
                var f = s * e[i];
                var b = c * e[i];
                (c, s, r) = Givens(g, f);
                if (i != m)
                {
                    e[i - 1] = r;
                }

                g = d[i] - p;
                r = ((d[i + 1] - g) * s) + (2 * c * b);
                p = s * r;
                d[i] = g + p;
                g = (c * r) - b;
                if (z is not null)
                {
                    Rotate(z.AsSpan(i * n, n), z.AsSpan((i + 1) * n, n), c, -s);
                }
            }

            d[l] -= p;
            e[l - 1] = g;
        }
    }

    /// <summary>eₘ² ≤ ε²|dₘ||dₘ₊₁| + SafeMin, without overflow: negligible against its neighbours or below the smallest normal.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Negligible(double em, double dm, double dm1)
    {
        var t = Math.Abs(em);
        return t * t <= (Eps2 * Math.Abs(dm) * Math.Abs(dm1)) + SafeMin;
    }

    /// <summary>
    /// Diagonalizes the 2 × 2 block [dᵢ eᵢ; eᵢ dᵢ₊₁] in closed form: dᵢ receives the eigenvalue of larger magnitude, dᵢ₊₁
    /// the other (computed as det/λ₁ to keep its relative accuracy), and rows i, i+1 of z are rotated onto the eigenvectors.
    /// </summary>
    private static void SolveTwoByTwo(Span<double> d, Span<double> e, int i, double[]? z, int n)
    {
        var a = d[i];
        var b = e[i];
        var cc = d[i + 1];
        var sum = a + cc;
        var diff = a - cc;
        var tb = 2 * b;
        var rt = double.Hypot(diff, tb);
        var (big, small) = Math.Abs(a) > Math.Abs(cc) ? (a, cc) : (cc, a);
        double rt1, rt2;
        int sign1;
        if (sum != 0)
        {
            rt1 = 0.5 * (sum + double.CopySign(rt, sum));
            sign1 = sum < 0 ? -1 : 1;
            rt2 = ((big / rt1) * small) - ((b / rt1) * b);
        }
        else
        {
            rt1 = 0.5 * rt;
            rt2 = -0.5 * rt;
            sign1 = 1;
        }

        // (cs, sn) is the unit eigenvector of rt1, from the better conditioned of the two rows of A − rt1·I.
        var sign2 = diff >= 0 ? 1 : -1;
        var t = diff >= 0 ? diff + rt : diff - rt;
        double cs, sn;
        if (Math.Abs(t) > Math.Abs(tb))
        {
            var ct = -tb / t;
            sn = 1 / Math.Sqrt(1 + (ct * ct));
            cs = ct * sn;
        }
        else if (tb == 0)
        {
            cs = 1;
            sn = 0;
        }
        else
        {
            var tn = -t / tb;
            cs = 1 / Math.Sqrt(1 + (tn * tn));
            sn = tn * cs;
        }

        if (sign1 == sign2)
        {
            (cs, sn) = (-sn, cs);
        }

        d[i] = rt1;
        d[i + 1] = rt2;
        e[i] = 0;
        if (z is not null)
        {
            Rotate(z.AsSpan(i * n, n), z.AsSpan((i + 1) * n, n), cs, -sn);
        }
    }

    /// <summary>
    /// The plane rotation [c s; −s c]·(f, g) = (r, 0), with r carrying the sign of f (LAPACK's dlartg convention): c = 1,
    /// s = 0 when g = 0, and c = 0 when f = 0, so a vanished bulge passes through without a division by zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (double C, double S, double R) Givens(double f, double g)
    {
        if (g == 0)
        {
            return (1, 0, f);
        }

        if (f == 0)
        {
            return (0, Math.Sign(g), Math.Abs(g));
        }

        var h = double.Hypot(f, g);
        var r = double.CopySign(h, f);
        return (Math.Abs(f) / h, g / r, r);
    }

    /// <summary>(x, y) ← (c·x − s·y, s·x + c·y).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Rotate(Span<double> x, Span<double> y, double c, double s)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<double>.Count)
        {
            var vx = MemoryMarshal.Cast<double, Vector<double>>(x);
            var vy = MemoryMarshal.Cast<double, Vector<double>>(y);
            var vc = new Vector<double>(c);
            var vs = new Vector<double>(s);
            for (var k = 0; k < vx.Length; k++)
            {
                var xk = vx[k];
                var yk = vy[k];
                vx[k] = (vc * xk) - (vs * yk);
                vy[k] = (vs * xk) + (vc * yk);
            }

            i = vx.Length * Vector<double>.Count;
        }

        for (; i < x.Length; i++)
        {
            var xk = x[i];
            var yk = y[i];
            x[i] = (c * xk) - (s * yk);
            y[i] = (s * xk) + (c * yk);
        }
    }
}
