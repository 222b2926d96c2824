using System.Text;
using WoodFisher.IO;
using WoodFisher.Models;
using WoodFisher.Models.Data;

namespace WoodFisher.Fuzz;

/// <summary>
/// One entry point per reader under fuzzing. Each accepts any bytes: a reader may refuse them only with the exceptions
/// its documentation promises for bad input (<see cref="IsPromised"/>); anything else escaping (an
/// <see cref="IndexOutOfRangeException"/>, an <see cref="OverflowException"/>, a real <see cref="OutOfMemoryException"/>)
/// is a crash for the fuzzer and a failing replay test.
/// </summary>
public static class FuzzTargets
{
    /// <summary>The memory budget the targets run under: 64 MiB, so that any size the input makes up is checked against it.</summary>
    public const long Budget = 64L << 20;

    /// <summary>The targets by name, as <c>run.sh</c> and the replay tests call them.</summary>
    public static IReadOnlyDictionary<string, Action<byte[]>> All { get; } = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        ["npy"] = Npy,
        ["npz"] = Npz,
        ["safetensors"] = SafeTensors,
        ["idx"] = Idx,
        ["spec"] = Spec,
    };

    /// <summary>A .npy file, read whole as the CLI reads gradients and masks.</summary>
    public static void Npy(byte[] input) => Guard(() => IO.Npy.Read(new MemoryStream(input, writable: false), "fuzz.npy"));

    /// <summary>A .npz archive: every member, with sizes and CRC-32 checked.</summary>
    public static void Npz(byte[] input) => Guard(() => IO.Npz.Read(new MemoryStream(input, writable: false), "fuzz.npz"));

    /// <summary>A safetensors file, then the model it describes (architecture from its metadata or its tensor names).</summary>
    public static void SafeTensors(byte[] input) => Guard(() =>
    {
        var file = IO.SafeTensors.Read(new MemoryStream(input, writable: false), "fuzz.safetensors");
        ModelFiles.Load(file, "fuzz.safetensors", null);
    });

    /// <summary>An IDX file, raw or gzip.</summary>
    public static void Idx(byte[] input) => Guard(() => Models.Data.Idx.Read(new MemoryStream(input, writable: false), "fuzz.idx"));

    /// <summary>
    /// A model spec (UTF-8 text), validated; built too when it has at most <see cref="SmallModel"/> parameters, so that
    /// an execution stays within milliseconds. <see cref="ModelFactory"/> is called directly: the CLI's wrapper turns any
    /// exception into a usage message and would hide a parser bug.
    /// </summary>
    public static void Spec(byte[] input) => Guard(() =>
    {
        var spec = Encoding.UTF8.GetString(input);
        if (ModelFactory.ParameterCount(spec) <= SmallModel)
            ModelFactory.Create(spec);
    });

    /// <summary>Specs up to this many parameters are built by the spec target.</summary>
    public const long SmallModel = 100_000;

    /// <summary>The exceptions the readers document for bad input.</summary>
    public static bool IsPromised(Exception ex) =>
        ex is InvalidDataException or NotSupportedException or FormatException or InsufficientMemoryException;

    private static void Guard(Action read)
    {
        try
        {
            read();
        }
        catch (Exception ex) when (IsPromised(ex))
        {
        }
    }
}
