using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// One float32 SIMD register type as static operations, so each sparse loop is written once and compiled per path (a
/// struct implementing it is a type argument; the JIT inlines every call).
/// </summary>
/// <typeparam name="TV">The register: <see cref="Vector512{T}"/>, <see cref="Vector256{T}"/>, or float.</typeparam>
internal unsafe interface ILanes<TV>
    where TV : struct
{
    static abstract int Count { get; }

    static abstract TV Zero { get; }

    static abstract TV Splat(float x);

    static abstract TV Load(float* p);

    static abstract void Store(TV v, float* p);

    static abstract TV Fma(TV a, TV b, TV c);

    static abstract TV Add(TV a, TV b);

    static abstract float Sum(TV v);
}

/// <summary>512-bit registers.</summary>
internal readonly unsafe struct Lanes512 : ILanes<Vector512<float>>
{
    public static int Count => 16;

    public static Vector512<float> Zero => Vector512<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Splat(float x) => Vector512.Create(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(float* p) => Vector512.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<float> v, float* p) => v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector512<float> v) => Vector512.Sum(v);
}

/// <summary>256-bit registers (AVX2 + FMA).</summary>
internal readonly unsafe struct Lanes256 : ILanes<Vector256<float>>
{
    public static int Count => 8;

    public static Vector256<float> Zero => Vector256<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Splat(float x) => Vector256.Create(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(float* p) => Vector256.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<float> v, float* p) => v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector256<float> v) => Vector256.Sum(v);
}

/// <summary>One element per register: any machine.</summary>
internal readonly unsafe struct Lanes1 : ILanes<float>
{
    public static int Count => 1;

    public static float Zero => 0f;

    public static float Splat(float x) => x;

    public static float Load(float* p) => *p;

    public static void Store(float v, float* p) => *p = v;

    public static float Fma(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);

    public static float Add(float a, float b) => a + b;

    public static float Sum(float v) => v;
}

/// <summary>The widest lanes this process accelerates (AVX-512, AVX2 with its gathers, else scalar); tests may force a narrower one.</summary>
internal static class LanePaths
{
    private static int? _forced;

    /// <summary>Lanes per register of the widest accelerated path: 16, 8 or 1.</summary>
    public static int Detected { get; } =
        Vector512.IsHardwareAccelerated && Avx2.IsSupported ? 16 : Vector256.IsHardwareAccelerated && Avx2.IsSupported ? 8 : 1;

    /// <summary>The path taken now.</summary>
    public static int Current => _forced ?? Detected;

    /// <summary>Runs later products on the path of <paramref name="lanes"/> (16, 8 or 1; not wider than <see cref="Detected"/>) until disposed.</summary>
    public static IDisposable Force(int lanes)
    {
        if (lanes is not (1 or 8 or 16) || lanes > Detected)
        {
            throw new ArgumentOutOfRangeException(nameof(lanes), lanes, $"Lanes must be 1, 8 or 16 and at most {Detected} here.");
        }

        var previous = _forced;
        _forced = lanes;
        return new Scope(previous);
    }

    private sealed class Scope(int? previous) : IDisposable
    {
        public void Dispose() => _forced = previous;
    }
}
