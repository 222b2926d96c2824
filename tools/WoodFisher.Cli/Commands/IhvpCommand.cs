using System.ComponentModel;
using System.Globalization;
using Spectre.Console.Cli;
using WoodFisher.Cli.Infrastructure;
using WoodFisher.IO;

namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher ihvp --grads G.npy --block C --damping L --vector V.npy --out U.npy</c>: U = F̂⁻¹V for the WoodFisher
/// inverse of F̂ = λI + GᵀG/N, V of shape (d,) or (k, d); U has V's shape and float dtype.
/// </summary>
internal sealed class IhvpCommand : Command<IhvpCommand.Settings>
{
    public sealed class Settings : CurvatureSettings
    {
        [CommandOption("--vector <FILE>")]
        [Description("V.npy of shape (d,) or (k, d): the vectors to multiply by F̂⁻¹.")]
        public string Vector { get; init; } = "";

        [CommandOption("--out <FILE>")]
        [Description("U.npy, F̂⁻¹v for each vector (same shape and float dtype as V).")]
        public string Out { get; init; } = "";
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(settings.Vector))
            throw new ArgumentException("--vector is required (a (d,) or (k, d) .npy file)");
        if (string.IsNullOrEmpty(settings.Out))
            throw new ArgumentException("--out is required (the .npy to write)");
        settings.ToOptions();
        var vectorPath = CliFiles.RequireFile(settings.Vector);
        var gradsPath = CliFiles.RequireFile(settings.Grads);
        long d;
        using (var g = new NpyRowReader(gradsPath))
            d = g.Columns;

        var v = Npy.Read(vectorPath);
        if (!v.DType.IsFloatingPoint())
            throw new InvalidDataException($"{vectorPath}: expected floating-point vectors but the file holds {v.DType}");
        var shape = v.ShapeInt64();
        if (shape.Length is not (1 or 2) || shape[^1] != d)
        {
            throw new InvalidDataException(
                $"{vectorPath}: expected shape ({d},) or (k, {d}) to match the {d} gradient columns of {gradsPath} but the file holds ({string.Join(", ", shape)})");
        }
        var vectors = v.ToFloat64();
        foreach (var x in vectors)
        {
            if (!double.IsFinite(x))
                throw new InvalidDataException($"{vectorPath}: holds a non-finite value ({x.ToString(CultureInfo.InvariantCulture)})");
        }

        var built = CurvatureBuild.Run(settings);
        using var inverse = built.Inverse;
        int count = shape.Length == 1 ? 1 : checked((int)shape[0]);
        var result = new double[vectors.Length];
        inverse.Multiply(vectors, result, count);
        var output = v.DType == DType.Float64 ? NdArray.Create(result, shape) : NdArray.Create(Array.ConvertAll(result, x => (float)x), shape);
        CliFiles.Write(settings.Out, s => Npy.Write(s, output));

        var inv = CultureInfo.InvariantCulture;
        CliConsole.Line(string.Create(inv, $"d\t{d}"));
        CliConsole.Line(string.Create(inv, $"vectors\t{count}"));
        CliConsole.Line($"strategy\t{inverse.Strategy.ToString().ToLowerInvariant()}");
        CliConsole.Line($"backend\t{built.Backend}");
        CliConsole.Line(string.Create(inv, $"seconds\t{built.TotalSeconds:F3}"));
        CliConsole.Line($"out\t{settings.Out}");
        return 0;
    }
}
