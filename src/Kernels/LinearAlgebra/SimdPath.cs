using System.Runtime.Intrinsics;

namespace WoodFisher.Kernels;

/// <summary>The micro-kernel family the dense linear-algebra core runs: the widest SIMD the machine accelerates.</summary>
public enum SimdPath
{
    /// <summary>One element per register: any machine.</summary>
    Scalar,

    /// <summary>256-bit vectors (AVX2 + FMA on x86).</summary>
    Avx2,

    /// <summary>512-bit vectors (AVX-512).</summary>
    Avx512,
}

/// <summary>
/// Chooses the <see cref="SimdPath"/> once at run time; tests force a narrower path with <see cref="Force"/> to check every
/// path on one machine (<c>DOTNET_EnableAVX512=0</c> turns the wide one off for a whole process).
/// </summary>
internal static class SimdPaths
{
    private static SimdPath? _forced;

    /// <summary>The widest path this process accelerates.</summary>
    public static SimdPath Detected { get; } =
        Vector512.IsHardwareAccelerated ? SimdPath.Avx512 : Vector256.IsHardwareAccelerated ? SimdPath.Avx2 : SimdPath.Scalar;

    /// <summary>The path taken now.</summary>
    public static SimdPath Current => _forced ?? Detected;

    /// <summary>Every path this process can run, narrowest first.</summary>
    public static IReadOnlyList<SimdPath> Available { get; } =
        Enum.GetValues<SimdPath>().Where(p => p <= Detected).ToArray();

    /// <summary>
    /// Runs every later product on <paramref name="path"/> (process-wide) until the returned scope is disposed. For tests:
    /// a path wider than <see cref="Detected"/> is refused.
    /// </summary>
    public static IDisposable Force(SimdPath path)
    {
        if (path > Detected)
        {
            throw new ArgumentOutOfRangeException(nameof(path), path, $"This process accelerates at most {Detected}.");
        }

        var previous = _forced;
        _forced = path;
        return new Scope(previous);
    }

    private sealed class Scope(SimdPath? previous) : IDisposable
    {
        public void Dispose() => _forced = previous;
    }
}
