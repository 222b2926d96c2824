using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace WoodFisher.Kernels;

/// <summary>
/// One SIMD register type as static operations, so that each loop is written once and instantiated per path: a struct
/// implementing it is a type argument, and the JIT compiles one specialised copy per path with every call inlined.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
/// <typeparam name="TV">The register: <see cref="Vector512{T}"/>, <see cref="Vector256{T}"/>, or T itself.</typeparam>
internal unsafe interface ISimd<T, TV>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TV : struct
{
    /// <summary>Elements per register.</summary>
    static abstract int Count { get; }

    static abstract TV Zero { get; }

    static abstract TV Splat(T x);

    static abstract TV Load(T* p);

    static abstract void Store(TV v, T* p);

    /// <summary>a·b + c, fused.</summary>
    static abstract TV Fma(TV a, TV b, TV c);

    static abstract TV Add(TV a, TV b);

    static abstract T Sum(TV v);

    /// <summary>v with all but its last <paramref name="keep"/> lanes zeroed (1 ≤ keep ≤ Count).</summary>
    static abstract TV KeepLast(TV v, int keep);

    /// <summary>The Count float64 values at <paramref name="dst"/> += v's lanes, widened to float64 (exactly).</summary>
    static abstract void AddWidened(TV v, double* dst);
}

/// <summary>512-bit registers.</summary>
internal readonly unsafe struct Simd512<T> : ISimd<T, Vector512<T>>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => Vector512<T>.Count;

    public static Vector512<T> Zero => Vector512<T>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Splat(T x) => Vector512.Create(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Load(T* p) => Vector512.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<T> v, T* p) => v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Fma(Vector512<T> a, Vector512<T> b, Vector512<T> c) => Gemm.Fma(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Add(Vector512<T> a, Vector512<T> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(Vector512<T> v) => Vector512.Sum(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> KeepLast(Vector512<T> v, int keep)
        => Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(Vector512<T>.Indices, Vector512.Create(T.CreateTruncating(Count - keep))), v, Vector512<T>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddWidened(Vector512<T> v, double* dst)
    {
        if (typeof(T) == typeof(float))
        {
            var (lower, upper) = Vector512.Widen(v.AsSingle());
            (Vector512.Load(dst) + lower).Store(dst);
            (Vector512.Load(dst + 8) + upper).Store(dst + 8);
        }
        else
        {
            (Vector512.Load(dst) + v.AsDouble()).Store(dst);
        }
    }
}

/// <summary>256-bit registers.</summary>
internal readonly unsafe struct Simd256<T> : ISimd<T, Vector256<T>>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => Vector256<T>.Count;

    public static Vector256<T> Zero => Vector256<T>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Splat(T x) => Vector256.Create(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Load(T* p) => Vector256.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<T> v, T* p) => v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Fma(Vector256<T> a, Vector256<T> b, Vector256<T> c) => Gemm.Fma(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Add(Vector256<T> a, Vector256<T> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(Vector256<T> v) => Vector256.Sum(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> KeepLast(Vector256<T> v, int keep)
        => Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(Vector256<T>.Indices, Vector256.Create(T.CreateTruncating(Count - keep))), v, Vector256<T>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddWidened(Vector256<T> v, double* dst)
    {
        if (typeof(T) == typeof(float))
        {
            var (lower, upper) = Vector256.Widen(v.AsSingle());
            (Vector256.Load(dst) + lower).Store(dst);
            (Vector256.Load(dst + 4) + upper).Store(dst + 4);
        }
        else
        {
            (Vector256.Load(dst) + v.AsDouble()).Store(dst);
        }
    }
}

/// <summary>Scalar "registers" of one element: the path for machines without SIMD, and the reference the tests force.</summary>
internal readonly unsafe struct SimdScalar<T> : ISimd<T, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => 1;

    public static T Zero => T.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Splat(T x) => x;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Load(T* p) => *p;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(T v, T* p) => *p = v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Fma(T a, T b, T c) => T.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Add(T a, T b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(T v) => v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T KeepLast(T v, int keep) => v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddWidened(T v, double* dst) => *dst += double.CreateTruncating(v);
}

/// <summary>Where the micro-kernel finds step p of its B operand.</summary>
internal unsafe interface IPanel<T>
    where T : unmanaged
{
    T* Row(int p);
}

/// <summary>A packed panel: step p is the nr values at <c>data + p·nr</c>.</summary>
internal readonly unsafe struct PackedPanel<T>(T* data, int nr) : IPanel<T>
    where T : unmanaged
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T* Row(int p) => data + ((nint)p * nr);
}

/// <summary>An unpacked windowed operand: step p is row p, at <c>data + offsets[p]</c>.</summary>
internal readonly unsafe struct WindowPanel<T>(T* data, int* offsets) : IPanel<T>
    where T : unmanaged
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T* Row(int p) => data + offsets[p];
}

/// <summary>Rows of a strided matrix: row i at <c>data + i·ld</c>.</summary>
internal readonly unsafe struct StridedPanel<T>(T* data, nint ld) : IPanel<T>
    where T : unmanaged
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T* Row(int p) => data + (p * ld);
}

/// <summary>The 6 × 2 registers of a micro-kernel tile, handed to the edge-tile path.</summary>
internal readonly record struct EdgeTile<TV>(TV C00, TV C01, TV C10, TV C11, TV C20, TV C21, TV C30, TV C31, TV C40, TV C41, TV C50, TV C51)
    where TV : struct;

internal static unsafe partial class Gemm
{
    /// <summary>
    /// The MR × 2W register tile, written once for every path: C[0:mr, 0:nr] += α·Σ_p a_p b_pᵀ over kc steps, a_p the MR
    /// values of step p of the packed A panel, b_p the 2W values at <c>panel.Row(p)</c> (a packed B panel, or a window of
    /// the unpacked B). C's elements are T, or float64 for float32 products (α = 1; the float32 sums are widened); then only
    /// the entries (i, j) with j ≤ i + <paramref name="diagonal"/> are written. Full tiles are updated in place; edge tiles
    /// (mr &lt; MR or nr &lt; 2W) and widened tiles crossing the diagonal go through a stack tile.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    internal static void Kernel<T, TV, TS, TP, TC>(T* a, TP panel, int kc, TC* c, nint ldc, T alpha, int mr, int nr, int diagonal)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TS : struct, ISimd<T, TV>
        where TP : struct, IPanel<T>
        where TC : unmanaged, IFloatingPointIeee754<TC>
    {
        var w = TS.Count;
        TV c00 = TS.Zero, c01 = TS.Zero, c10 = TS.Zero, c11 = TS.Zero, c20 = TS.Zero, c21 = TS.Zero;
        TV c30 = TS.Zero, c31 = TS.Zero, c40 = TS.Zero, c41 = TS.Zero, c50 = TS.Zero, c51 = TS.Zero;
        for (var p = 0; p < kc; p++)
        {
            var b = panel.Row(p);
            var b0 = TS.Load(b);
            var b1 = TS.Load(b + w);
            var a0 = TS.Splat(a[0]);
            c00 = TS.Fma(a0, b0, c00);
            c01 = TS.Fma(a0, b1, c01);
            var a1 = TS.Splat(a[1]);
            c10 = TS.Fma(a1, b0, c10);
            c11 = TS.Fma(a1, b1, c11);
            var a2 = TS.Splat(a[2]);
            c20 = TS.Fma(a2, b0, c20);
            c21 = TS.Fma(a2, b1, c21);
            var a3 = TS.Splat(a[3]);
            c30 = TS.Fma(a3, b0, c30);
            c31 = TS.Fma(a3, b1, c31);
            var a4 = TS.Splat(a[4]);
            c40 = TS.Fma(a4, b0, c40);
            c41 = TS.Fma(a4, b1, c41);
            var a5 = TS.Splat(a[5]);
            c50 = TS.Fma(a5, b0, c50);
            c51 = TS.Fma(a5, b1, c51);
            a += MR;
        }

        var al = TS.Splat(alpha);
        if (mr == MR && nr == 2 * w && typeof(TC) == typeof(T))
        {
            var ct = (T*)c;
            Update<T, TV, TS>(ct, w, al, c00, c01);
            Update<T, TV, TS>(ct + ldc, w, al, c10, c11);
            Update<T, TV, TS>(ct + (2 * ldc), w, al, c20, c21);
            Update<T, TV, TS>(ct + (3 * ldc), w, al, c30, c31);
            Update<T, TV, TS>(ct + (4 * ldc), w, al, c40, c41);
            Update<T, TV, TS>(ct + (5 * ldc), w, al, c50, c51);
            return;
        }

        if (mr == MR && nr == 2 * w && typeof(TC) == typeof(double) && diagonal >= nr - 1)
        {
            var cd = (double*)c;
            Widen<T, TV, TS>(cd, w, c00, c01);
            Widen<T, TV, TS>(cd + ldc, w, c10, c11);
            Widen<T, TV, TS>(cd + (2 * ldc), w, c20, c21);
            Widen<T, TV, TS>(cd + (3 * ldc), w, c30, c31);
            Widen<T, TV, TS>(cd + (4 * ldc), w, c40, c41);
            Widen<T, TV, TS>(cd + (5 * ldc), w, c50, c51);
            return;
        }

        // An edge tile: α·acc into a zeroed stack tile (in its own method, so that no stack buffer lives in this one and the
        // accumulators stay in registers), then only its mr × nr corner is added to C.
        var tile = new EdgeTile<TV>(c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
        AddEdge<T, TV, TS, TC>(in tile, c, ldc, al, mr, nr, diagonal);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AddEdge<T, TV, TS, TC>(in EdgeTile<TV> acc, TC* c, nint ldc, TV alpha, int mr, int nr, int diagonal)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TS : struct, ISimd<T, TV>
        where TC : unmanaged, IFloatingPointIeee754<TC>
    {
        var w = TS.Count;
        var t = stackalloc T[MR * 2 * w];
        Update<T, TV, TS>(t, w, alpha, acc.C00, acc.C01);
        Update<T, TV, TS>(t + (2 * w), w, alpha, acc.C10, acc.C11);
        Update<T, TV, TS>(t + (4 * w), w, alpha, acc.C20, acc.C21);
        Update<T, TV, TS>(t + (6 * w), w, alpha, acc.C30, acc.C31);
        Update<T, TV, TS>(t + (8 * w), w, alpha, acc.C40, acc.C41);
        Update<T, TV, TS>(t + (10 * w), w, alpha, acc.C50, acc.C51);
        for (var i = 0; i < mr; i++)
        {
            var row = c + (i * ldc);
            var cols = Math.Min(nr, i + diagonal + 1);
            for (var j = 0; j < cols; j++)
            {
                row[j] += TC.CreateTruncating(t[(i * 2 * w) + j]);
            }
        }
    }

    /// <summary>The float64 row += the two accumulators v0, v1 widened (a float32 product's tile row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen<T, TV, TS>(double* row, int w, TV v0, TV v1)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TS : struct, ISimd<T, TV>
    {
        TS.AddWidened(v0, row);
        TS.AddWidened(v1, row + w);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update<T, TV, TS>(T* row, int w, TV alpha, TV v0, TV v1)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : struct
        where TS : struct, ISimd<T, TV>
    {
        TS.Store(TS.Fma(alpha, v0, TS.Load(row)), row);
        TS.Store(TS.Fma(alpha, v1, TS.Load(row + w)), row + w);
    }

    /// <summary>The AVX-512 instance of <see cref="Kernel{T, TV, TS, TP, TC}"/> on packed panels (for peak measurements).</summary>
    internal static void Kernel512<T>(ReadOnlySpan<T> ap, ReadOnlySpan<T> bp, int kc, ref T c, int ldc, T alpha, int mr, int nr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* a = ap, b = bp, pc = &c)
        {
            Kernel<T, Vector512<T>, Simd512<T>, PackedPanel<T>, T>(a, new(b, 2 * Vector512<T>.Count), kc, pc, ldc, alpha, mr, nr, int.MaxValue / 2);
        }
    }

    /// <summary>The AVX2 instance of <see cref="Kernel{T, TV, TS, TP, TC}"/> on packed panels (for peak measurements).</summary>
    internal static void Kernel256<T>(ReadOnlySpan<T> ap, ReadOnlySpan<T> bp, int kc, ref T c, int ldc, T alpha, int mr, int nr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* a = ap, b = bp, pc = &c)
        {
            Kernel<T, Vector256<T>, Simd256<T>, PackedPanel<T>, T>(a, new(b, 2 * Vector256<T>.Count), kc, pc, ldc, alpha, mr, nr, int.MaxValue / 2);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<T> Fma<T>(Vector512<T> a, Vector512<T> b, Vector512<T> c)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            return Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        }

        if (typeof(T) == typeof(double))
        {
            return Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        }

        return (a * b) + c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<T> Fma<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            return Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        }

        if (typeof(T) == typeof(double))
        {
            return Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        }

        return (a * b) + c;
    }
}
