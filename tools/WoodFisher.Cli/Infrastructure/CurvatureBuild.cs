using System.Diagnostics;
using System.Runtime.InteropServices;
using WoodFisher.IO;
using WoodFisher.Kernels;

namespace WoodFisher.Cli.Infrastructure;

/// <summary>
/// Builds a <see cref="WoodFisherInverse"/> from a gradient .npy file, streaming its rows into a
/// <see cref="WoodFisherBuilder"/> (m is known from the header, so rank-1 and rank-k stream without buffering).
/// float32 files stream through <see cref="NpyRowReader"/>; float64 files are read as float64, so
/// <c>--precision f64</c> sees the gradients exactly.
/// </summary>
internal static class CurvatureBuild
{
    /// <summary>Elements per streamed chunk: large enough for whole rank-k panels, small enough to stay in L3-ish memory.</summary>
    private const long ChunkElements = 1 << 22;

    public sealed record Result(WoodFisherInverse Inverse, long Rows, int Dimension, double ReadSeconds, double TotalSeconds, string Backend);

    public static Result Run(CurvatureSettings settings)
    {
        var options = settings.ToOptions();
        var path = CliFiles.RequireFile(settings.Grads);
        var clock = Stopwatch.StartNew();
        using var reader = new NpyRowReader(path);
        if (reader.Rows < 1)
            throw new InvalidDataException($"{path}: holds no gradient rows (shape ({reader.Rows}, {reader.Columns}))");
        int d = reader.Columns;
        long m = reader.Rows;
        int chunkRows = (int)Math.Clamp(ChunkElements / d, 1, Math.Min(m, 4096));
        var read = new Stopwatch();
        using var builder = new WoodFisherBuilder(d, options, m);
        using (var progress = CliProgress.Start("fisher: gradients", m))
        {
            if (reader.DType == DType.Float64)
                StreamFloat64(path, builder, m, d, chunkRows, progress, read);
            else
                StreamFloat32(reader, builder, d, chunkRows, progress, read);
        }
        var inverse = builder.Build();
        return new Result(inverse, m, d, read.Elapsed.TotalSeconds, clock.Elapsed.TotalSeconds, inverse.BackendName);
    }

    private static void StreamFloat32(NpyRowReader reader, WoodFisherBuilder builder, int d, int chunkRows, CliProgress progress, Stopwatch read)
    {
        var buffer = new float[(long)chunkRows * d];
        while (true)
        {
            read.Start();
            int n = reader.ReadRows(buffer, chunkRows);
            read.Stop();
            if (n == 0)
                break;
            builder.Add(buffer.AsSpan(0, n * d), n);
            progress.Advance(n);
        }
    }

    private static void StreamFloat64(string path, WoodFisherBuilder builder, long m, int d, int chunkRows, CliProgress progress, Stopwatch read)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var header = Npy.ReadHeader(stream, path);
        stream.Position = header.DataOffset;
        var buffer = new double[(long)chunkRows * d];
        for (long row = 0; row < m; row += chunkRows)
        {
            int n = (int)Math.Min(chunkRows, m - row);
            read.Start();
            stream.ReadExactly(MemoryMarshal.AsBytes(buffer.AsSpan(0, n * d)));
            read.Stop();
            builder.Add(buffer.AsSpan(0, n * d), n);
            progress.Advance(n);
        }
    }

    /// <summary>"1.2 MiB"-style size.</summary>
    public static string FormatBytes(long bytes) => bytes switch
    {
        < 1L << 10 => FormattableString.Invariant($"{bytes} B"),
        < 1L << 20 => FormattableString.Invariant($"{bytes / 1024.0:F1} KiB"),
        < 1L << 30 => FormattableString.Invariant($"{bytes / (1024.0 * 1024):F1} MiB"),
        _ => FormattableString.Invariant($"{bytes / (1024.0 * 1024 * 1024):F2} GiB"),
    };
}
