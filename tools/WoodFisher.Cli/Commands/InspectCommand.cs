using Spectre.Console;

namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher inspect FILE</c>: one row per array (name, dtype, shape, min, max, mean, fraction of zeros).
/// Plain output is tab-separated with a header line; shapes are written <c>2000x28x28</c>.
/// </summary>
internal sealed class InspectCommand : VerbCommand<InspectCommand.Settings>
{
    public sealed class Settings : VerbSettings
    {
        [CommandArgument(0, "<FILE>"), Help("A .npy, .npz, .safetensors or IDX (raw or .gz) file.")]
        public string File { get; init; } = "";
    }

    protected override int Run(Settings settings, VerbRun run, CancellationToken cancellationToken)
    {
        var path = CliFiles.RequireFile(settings.File);
        var (format, arrays, metadata) = Load(path);
        var rows = arrays.Select(a => Row(Printable.Escape(a.Name), a.Array)).ToList();

        if (CliConsole.IsInteractive)
        {
            var table = new Table().Title($"{Markup.Escape(Path.GetFileName(path))} ({format})");
            foreach (var h in Header)
                table.AddColumn(h == "name" ? new TableColumn(h) : new TableColumn(h).RightAligned());
            foreach (var r in rows)
                table.AddRow(r.Select(Markup.Escape).ToArray());
            CliConsole.Render(table);
            foreach (var (k, v) in metadata)
                CliConsole.Line($"metadata {Printable.Escape(k)} = {Printable.Escape(v)}");
        }
        else
        {
            CliConsole.Line($"# {format} {path}");
            foreach (var (k, v) in metadata)
                CliConsole.Line($"# metadata {Printable.Escape(k)}={Printable.Escape(v)}");
            CliConsole.Line(string.Join('\t', Header));
            foreach (var r in rows)
                CliConsole.Line(string.Join('\t', r));
        }
        return 0;
    }

    private static readonly string[] Header = ["name", "dtype", "shape", "min", "max", "mean", "zeros"];

    private static string[] Row(string name, NdArray array)
    {
        var s = ArrayStats.Of(array);
        return
        [
            name,
            array.DType.ToString().ToLowerInvariant(),
            FormatShape(array.Shape),
            Num(s.Min),
            Num(s.Max),
            Num(s.Mean),
            s.ZeroFraction.ToString("0.0000", CultureInfo.InvariantCulture),
        ];
    }

    internal static string FormatShape(IReadOnlyList<long> shape) =>
        shape.Count == 0 ? "scalar" : string.Join('x', shape.Select(d => d.ToString(CultureInfo.InvariantCulture)));

    private static string Num(double v) => v.ToString("G6", CultureInfo.InvariantCulture);

    internal static (string Format, IReadOnlyList<NamedArray> Arrays, IReadOnlyDictionary<string, string> Metadata) Load(string path)
    {
        var empty = new Dictionary<string, string>();
        var name = Path.GetFileName(path);
        switch (Sniff(path))
        {
            case "npy":
                return ("npy", [new NamedArray(StripExtensions(name), Npy.Read(path))], empty);
            case "npz":
                return ("npz", Npz.Read(path), empty);
            case "safetensors":
                var st = SafeTensors.Read(path);
                return ("safetensors", st.Tensors, st.Metadata);
            case "idx":
                return ("idx", [new NamedArray(StripExtensions(name), Idx.Read(path))], empty);
            default:
                throw new InvalidDataException($"{path}: unrecognised file format (expected .npy, .npz, .safetensors or IDX)");
        }
    }

    private static string StripExtensions(string name)
    {
        foreach (var ext in new[] { ".gz", ".npy", ".idx" })
        {
            if (name.EndsWith(ext, StringComparison.OrdinalIgnoreCase))
                name = name[..^ext.Length];
        }
        return name;
    }

    private static string Sniff(string path)
    {
        Span<byte> head = stackalloc byte[9];
        int n;
        using (var f = System.IO.File.OpenRead(path))
            n = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        head = head[..n];
        if (head.StartsWith(Npy.Magic))
            return "npy";
        if (head.StartsWith("PK\u0003\u0004"u8) || head.StartsWith("PK\u0005\u0006"u8))
            return "npz";
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) || (n == 9 && head[8] == (byte)'{'))
            return "safetensors";
        if (n >= 2 && ((head[0] == 0x1f && head[1] == 0x8b) || (head[0] == 0 && head[1] == 0)))
            return "idx";
        return "unknown";
    }
}
