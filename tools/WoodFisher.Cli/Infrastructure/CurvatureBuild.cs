using System.Diagnostics;
using System.Runtime.InteropServices;
using WoodFisher.Pruning.Methods;

namespace WoodFisher.Cli.Infrastructure;

/// <summary>
/// Builds a <see cref="WoodFisherInverse"/> for <c>fisher</c> and <c>ihvp</c> from gradient rows streamed into a
/// <see cref="WoodFisherBuilder"/>: rows of a .npy file (<c>--grads</c>; float64 files stay float64, so
/// <c>--precision float64</c> sees them exactly) or per-sample gradients of a model (<c>--model</c>). Which one is a mode:
/// the options of the other are refused.
/// </summary>
/// <param name="Source">Where the gradients come from, for messages.</param>
/// <param name="Rows">Gradient rows m.</param>
/// <param name="Dimension">Columns d.</param>
/// <param name="Options">The kernel options of the inverse.</param>
/// <param name="File">The gradient .npy, or null when <paramref name="Gradients"/> computes them.</param>
/// <param name="Gradients">Per-sample gradients of a model, or null when read from <paramref name="File"/>.</param>
internal sealed record CurvatureBuild(string Source, long Rows, int Dimension, WoodFisherOptions Options, string? File, IGradientSource? Gradients)
{
    /// <summary>Elements per streamed chunk: large enough for whole rank-k panels, small enough to stay in L3-ish memory.</summary>
    private const long ChunkElements = 1 << 22;

    /// <summary>The blocks the inverse will have.</summary>
    public BlockLayout Layout => BlockLayout.Create(Dimension, Options.BlockSize, Options.Segments);

    /// <summary>Seconds spent reading (file) or computing (model) gradients.</summary>
    public double ReadSeconds { get; private set; }

    /// <summary>Seconds of the whole build.</summary>
    public double TotalSeconds { get; private set; }

    /// <summary>Opens the gradient source the options describe and checks it, before any heavy work.</summary>
    public static CurvatureBuild Open(CurvatureSettings s, VerbRun run)
    {
        var spec = s.Estimator(PruningMethod.WoodFisher) with { Normalizer = s.Normalizer };
        if (spec.BlockSize == EstimatorSpec.FullBlockSize)
            throw new UsageException("--block full keeps the gradients instead of blocks, so there are no blocks to write or apply here: give a block size, or prune with --method woodfisher:block=full");
        if (s.Grads is not null)
        {
            run.Refuse("gradients read from --grads", "they fix the samples and coordinates", "--model", "--arch", "--data", "--split", "--samples", "--seed", "--layers", "--include-bias");
            var path = CliFiles.RequireFile(s.Grads);
            long rows;
            int d;
            using (var reader = new NpyRowReader(path))
            {
                rows = reader.Rows;
                d = reader.Columns;
            }
            if (rows < 1)
                throw new InvalidDataException($"{path}: holds no gradient rows (shape ({rows}, {d}))");
            var options = WoodFisherMethod.Options(spec, d, GradientFileHelp.ReadSegments(s.Layout, s.Segments, d));
            return new CurvatureBuild(path, rows, d, options, path, null);
        }

        run.Refuse("gradients computed from --model", "the model's layers define the columns", "--layout", "--segments");
        var model = CliModels.Load(VerbRun.Require(s.Model, "--grads or --model", "the gradients: a .npy file, or a model to compute them from"), s.Arch);
        var data = CliModels.LoadData(s.Data, s.Split);
        CliModels.CheckFits(model, data);
        CliModels.CheckSamples(s.Samples, data, s.Minibatch);
        var selection = CliModels.Select(model, s.Layers, s.IncludeBias);
        var source = new PerSampleGradientSource(model, data.Images, data.Labels, s.Samples, selection, s.Minibatch, s.Seed);
        var fromModel = WoodFisherMethod.Options(spec with { MiniBatch = 1 }, selection.Dimension, selection.Segments);
        return new CurvatureBuild($"{model.Spec} on {s.Samples} {s.Split} samples", source.Count, source.Dimension, fromModel, null, source);
    }

    /// <summary>Builds the inverse (the heavy part), with progress.</summary>
    public WoodFisherInverse Build()
    {
        var clock = Stopwatch.StartNew();
        var read = new Stopwatch();
        WoodFisherInverse inverse;
        using (var builder = new WoodFisherBuilder(Dimension, Options, Rows))
        {
            using (var progress = CliProgress.Start("fisher: gradients", Rows))
            {
                if (Gradients is not null)
                    Stream(Gradients, builder, progress, read);
                else
                    StreamFile(File!, builder, progress, read);
            }
            inverse = builder.Build();
        }
        ReadSeconds = read.Elapsed.TotalSeconds;
        TotalSeconds = clock.Elapsed.TotalSeconds;
        return inverse;
    }

    private static void Stream(IGradientSource source, WoodFisherBuilder builder, CliProgress progress, Stopwatch read)
    {
        var d = source.Dimension;
        int chunkRows = ChunkRows(d, source.Count);
        var buffer = new float[(long)chunkRows * d];
        while (true)
        {
            read.Start();
            int n = source.Read(buffer, chunkRows);
            read.Stop();
            if (n == 0)
                break;
            builder.Add(buffer.AsSpan(0, n * d), n);
            progress.Advance(n);
        }
    }

    private static void StreamFile(string path, WoodFisherBuilder builder, CliProgress progress, Stopwatch read)
    {
        DType dtype;
        using (var reader = new NpyRowReader(path))
            dtype = reader.DType;
        if (dtype != DType.Float64)
        {
            using var rows = new NpyGradientSource(path);
            Stream(rows, builder, progress, read);
            return;
        }
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var header = Npy.ReadHeader(stream, path);
        stream.Position = header.DataOffset;
        int d = checked((int)header.Shape[1]);
        long m = header.Shape[0];
        int chunkRows = ChunkRows(d, m);
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

    /// <summary>Rows per streamed chunk for d columns (a distributed rank uses the whole d's, so its builder sees the same chunks).</summary>
    internal static int ChunkRows(int d, long rows) => (int)Math.Clamp(ChunkElements / d, 1, Math.Min(rows, 4096));
}
