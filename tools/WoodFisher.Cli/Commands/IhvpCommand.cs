namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher ihvp --grads G.npy --vector V.npy --out U.npy</c> (or <c>--model M</c> to compute the gradients):
/// U = F̂⁻¹V for the WoodFisher inverse of F̂ = λI + GᵀG/N, V of shape (d,) or (k, d); U has V's shape and float dtype.
/// </summary>
internal sealed class IhvpCommand : VerbCommand<IhvpCommand.Settings>
{
    public sealed class Settings : CurvatureSettings
    {
        [CommandOption("--vector <FILE>", true), Help("V.npy of shape (d,) or (k, d): the vectors to multiply by F̂⁻¹.")]
        public string? Vector { get; init; }

        [CommandOption("--out <FILE>", true), Help("U.npy, F̂⁻¹v for each vector (same shape and float dtype as V).")]
        public string? Out { get; init; }
    }

    protected override int Run(Settings settings, VerbRun run, CancellationToken cancellationToken)
    {
        var outPath = run.Outputs.File("--out", settings.Out)!;
        var vectorPath = CliFiles.RequireFile(settings.Vector!);
        var build = CurvatureBuild.Open(settings, run);
        var d = build.Dimension;
        var v = Npy.Read(vectorPath);
        if (!v.DType.IsFloatingPoint())
            throw new InvalidDataException($"{vectorPath}: expected floating-point vectors but the file holds {v.DType}");
        var shape = v.ShapeInt64();
        if (shape.Length is not (1 or 2) || shape[^1] != d)
        {
            throw new InvalidDataException(
                $"{vectorPath}: expected shape ({d},) or (k, {d}) to match the {d} gradient columns of {build.Source} but the file holds ({string.Join(", ", shape)})");
        }
        var vectors = v.ToFloat64();
        Finite.Check(vectors, vectorPath);

        using var inverse = build.Build();
        int count = shape.Length == 1 ? 1 : checked((int)shape[0]);
        var result = new double[vectors.Length];
        inverse.Multiply(vectors, result, count);
        Finite.Check(result, "F̂⁻¹V", "the vectors or 1/λ are too large for the result's range");
        var output = v.DType == DType.Float64 ? NdArray.Create(result, shape) : NdArray.Create(Array.ConvertAll(result, x => (float)x), shape);
        if (v.DType != DType.Float64)
            Finite.Check(Array.ConvertAll(result, x => (double)(float)x), "F̂⁻¹V in float32", "write float64 vectors to keep the range");
        CliFiles.Write(outPath, s => Npy.Write(s, output));

        CliConsole.Record(("d", d), ("vectors", count), ("strategy", inverse.Strategy.ToString().ToLowerInvariant()), ("backend", inverse.BackendName),
            ("seconds", Math.Round(build.TotalSeconds, 3)), ("out", outPath));
        return 0;
    }
}
