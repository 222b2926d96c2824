using ILGPU.Algorithms;

namespace WoodFisher.Kernels.Ilgpu;

/// <summary>
/// Scalar arithmetic for ILGPU kernels written once over the element type: ILGPU 1.5 does not translate generic-math
/// static interface calls on every backend, but it does specialise kernels over struct type parameters, so each
/// kernel takes a <c>TOps</c> struct and calls <c>default(TOps).Mul(a, b)</c>.
/// </summary>
internal interface IScalarOps<T>
    where T : unmanaged
{
    T Zero { get; }

    T Add(T a, T b);

    T Sub(T a, T b);

    T Mul(T a, T b);

    T Div(T a, T b);

    T Sqrt(T a);

    /// <summary>True when 0 &lt; a &lt; ∞ (false for NaN).</summary>
    bool IsPositiveFinite(T a);
}

internal readonly struct FloatOps : IScalarOps<float>
{
    public float Zero => 0f;

    public float Add(float a, float b) => a + b;

    public float Sub(float a, float b) => a - b;

    public float Mul(float a, float b) => a * b;

    public float Div(float a, float b) => a / b;

    public float Sqrt(float a) => XMath.Sqrt(a);

    public bool IsPositiveFinite(float a) => a > 0f && a <= float.MaxValue;
}

internal readonly struct DoubleOps : IScalarOps<double>
{
    public double Zero => 0d;

    public double Add(double a, double b) => a + b;

    public double Sub(double a, double b) => a - b;

    public double Mul(double a, double b) => a * b;

    public double Div(double a, double b) => a / b;

    public double Sqrt(double a) => XMath.Sqrt(a);

    public bool IsPositiveFinite(double a) => a > 0d && a <= double.MaxValue;
}
