using System.Reflection;

namespace WoodFisher.Models.Data;

/// <summary>
/// Loads Fashion-MNIST (or any MNIST-format IDX set) by split. Where the data comes from, first match wins:
/// <list type="number">
/// <item>the <c>dir</c> argument, when given;</item>
/// <item>the <c>WOODFISHER_DATA</c> environment variable, when set;</item>
/// <item><c>/usr/share/datasets/fashion-mnist</c> (Debian's dataset-fashion-mnist), when it holds the split's files;</item>
/// <item>the slice embedded in this assembly (2,000 train / 1,000 test examples, from <c>data/fashion-mnist-slice</c>).</item>
/// </list>
/// A directory must hold <c>{train|t10k}-images-idx3-ubyte[.gz]</c> and <c>{train|t10k}-labels-idx1-ubyte[.gz]</c>.
/// </summary>
public static partial class DataSets
{
    /// <summary>The system-wide Fashion-MNIST directory looked for when no directory is given.</summary>
    public const string SystemDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>Environment variable naming a data directory that overrides the defaults.</summary>
    public const string EnvironmentVariable = "WOODFISHER_DATA";

    /// <summary>Loads a split ("train" or "test") from the first source that has it (see the type remarks).</summary>
    /// <param name="dir">Directory with IDX files, or null for the defaults.</param>
    /// <param name="split">"train" or "test" (also "t10k").</param>
    /// <exception cref="DirectoryNotFoundException">An explicit directory (argument or WOODFISHER_DATA) does not exist.</exception>
    /// <exception cref="FileNotFoundException">An explicit directory lacks the split's files.</exception>
    public static Dataset Load(string? dir = null, string split = "train") =>
        Resolve(dir, split) is var (images, labels) ? LoadIdx(images, labels) : LoadEmbedded(split);

    /// <summary>The split's image and label files by the rules of <see cref="Load"/>, or null for the embedded slice.</summary>
    private static (string Images, string Labels)? Resolve(string? dir, string split)
    {
        var prefix = Prefix(split);
        var explicitDir = dir ?? NullIfEmpty(Environment.GetEnvironmentVariable(EnvironmentVariable));
        if (explicitDir is not null)
        {
            if (!Directory.Exists(explicitDir))
                throw new DirectoryNotFoundException($"data directory '{explicitDir}' does not exist");
            return FindFiles(explicitDir, prefix)
                ?? throw new FileNotFoundException($"data directory '{explicitDir}' has no {prefix}-images-idx3-ubyte[.gz] and {prefix}-labels-idx1-ubyte[.gz]");
        }
        return FindFiles(SystemDirectory, prefix);
    }

    /// <summary>Describes where <see cref="Load"/> would read the split from, without reading it.</summary>
    public static string DescribeSource(string? dir = null, string split = "train")
    {
        var prefix = Prefix(split);
        var explicitDir = dir ?? NullIfEmpty(Environment.GetEnvironmentVariable(EnvironmentVariable));
        if (explicitDir is not null)
            return explicitDir;
        return FindFiles(SystemDirectory, prefix) is not null ? SystemDirectory : "embedded Fashion-MNIST slice";
    }

    /// <summary>Loads a split of the Fashion-MNIST slice embedded in this assembly (2,000 train or 1,000 test examples).</summary>
    public static Dataset LoadEmbedded(string split = "train")
    {
        var prefix = Prefix(split);
        var asm = typeof(DataSets).Assembly;
        using var images = OpenResource(asm, $"{prefix}-images-idx3-ubyte.gz");
        using var labels = OpenResource(asm, $"{prefix}-labels-idx1-ubyte.gz");
        return Build(images, labels, $"embedded Fashion-MNIST slice ({split})");
    }

    /// <summary>Loads images and labels from two IDX files (raw or gzip).</summary>
    public static Dataset LoadIdx(string imagesPath, string labelsPath)
    {
        using var images = File.OpenRead(imagesPath);
        using var labels = File.OpenRead(labelsPath);
        return Build(images, labels, imagesPath);
    }

    private static Dataset Build(Stream imagesStream, Stream labelsStream, string name)
    {
        var img = Idx.Read(imagesStream, name);
        CheckImages(name, img.DType, img.Shape);
        var labels = Labels(labelsStream, name);
        CheckCount(name, img.Shape[0], labels.Values.Length);
        var shape = new FeatureShape(1, (int)img.Shape[1], (int)img.Shape[2]);
        return new Dataset(Idx.ScalePixels(img.AsSpan<byte>()), labels.Values, shape, labels.Classes, name);
    }

    /// <summary>The checks of an image file's header against its labels that <see cref="Load"/> makes.</summary>
    internal static void CheckHeader(string name, IO.DType dtype, IReadOnlyList<long> dims, int labels)
    {
        CheckImages(name, dtype, dims);
        CheckCount(name, dims[0], labels);
    }

    private static void CheckImages(string name, IO.DType dtype, IReadOnlyList<long> dims)
    {
        if (dtype != IO.DType.UInt8 || dims.Count != 3)
            throw new InvalidDataException($"{name}: expected IDX images (ubyte, n × rows × cols) but found {dtype} with {dims.Count} dimensions");
    }

    private static void CheckCount(string name, long images, int labels)
    {
        if (labels != images)
            throw new InvalidDataException($"{name}: {images} images but {labels} labels");
    }

    /// <summary>The label file's labels, and the class count they imply (at least 10).</summary>
    private static (int[] Values, int Classes) Labels(Stream labelsStream, string name)
    {
        var labelBytes = Idx.ReadLabels(labelsStream, name + " (labels)");
        var labels = new int[labelBytes.Length];
        int classes = 10;
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = labelBytes[i];
            classes = Math.Max(classes, labels[i] + 1);
        }
        return (labels, classes);
    }

    private static (string Images, string Labels)? FindFiles(string dir, string prefix)
    {
        string? Find(string stem) =>
            new[] { stem + ".gz", stem }.Select(f => Path.Combine(dir, f)).FirstOrDefault(File.Exists);
        var images = Find($"{prefix}-images-idx3-ubyte");
        var labels = Find($"{prefix}-labels-idx1-ubyte");
        return images is not null && labels is not null ? (images, labels) : null;
    }

    private static Stream OpenResource(Assembly asm, string file) =>
        asm.GetManifestResourceStream($"WoodFisher.Models.Data.{file}")
        ?? throw new FileNotFoundException($"embedded resource {file} is missing from {asm.GetName().Name}");

    private static string Prefix(string split) => split.ToLowerInvariant() switch
    {
        "train" => "train",
        "test" or "t10k" => "t10k",
        _ => throw new ArgumentException($"split must be 'train' or 'test', not '{split}'", nameof(split)),
    };

    private static string? NullIfEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;
}
