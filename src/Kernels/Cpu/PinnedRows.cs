namespace WoodFisher.Kernels.Cpu;

/// <summary>
/// Gradient rows (row-major float32 or float64) that the caller keeps pinned for the duration of one backend call, so
/// the parallel block loops can read them without copying them into an array first.
/// </summary>
internal readonly unsafe struct PinnedRows<TSrc>(TSrc* data, int length)
    where TSrc : unmanaged
{
    private readonly TSrc* _data = data;
    private readonly int _length = length;

    /// <summary>The rows as a span (valid only while the caller's <c>fixed</c> statement is in scope).</summary>
    public ReadOnlySpan<TSrc> Span => new(_data, _length);
}
