using System.Diagnostics;
using WoodFisher.Kernels;
using WoodFisher.Models;

namespace WoodFisher.Pruning.Methods;

/// <summary>Measures the time spent producing gradient rows inside a consumer such as the WoodFisher builder.</summary>
internal sealed class TimedGradientSource(IGradientSource inner) : IFactoredGradientSource
{
    private readonly Stopwatch _watch = new();

    public double Seconds => _watch.Elapsed.TotalSeconds;

    public int Dimension => inner.Dimension;

    public long Count => inner.Count;

    public IReadOnlyList<int> Segments => inner.Segments;

    public int Read(Span<float> buffer, int maxRows)
    {
        _watch.Start();
        try
        {
            return inner.Read(buffer, maxRows);
        }
        finally
        {
            _watch.Stop();
        }
    }

    public void Reset() => inner.Reset();

    public long? FactorBytes => (inner as IFactoredGradientSource)?.FactorBytes;

    public IGradientRowFactors? Factors()
    {
        _watch.Start();
        try
        {
            return (inner as IFactoredGradientSource)?.Factors();
        }
        finally
        {
            _watch.Stop();
        }
    }
}
