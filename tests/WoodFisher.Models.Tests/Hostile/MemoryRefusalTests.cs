using WoodFisher.IO;
using WoodFisher.Kernels;
using WoodFisher.Models.Data;
using WoodFisher.Models.Tests.IO;

namespace WoodFisher.Models.Tests.Hostile;

/// <summary>
/// Sizes that come from a file or a spec are refused before memory is spent: each test measures the bytes this thread
/// allocated while the refusal happened (a few hundred kB of parsing at most, against the megabytes to gigabytes asked).
/// </summary>
public class MemoryRefusalTests
{
    private const long Small = 1 << 20;

    private static void AssertRefusedCheaply<T>(Action action, NUnit.Framework.Constraints.IResolveConstraint message) where T : Exception
    {
        var (bytes, error) = HostileFiles.Allocated(action);
        Assert.Multiple(() =>
        {
            Assert.That(error, Is.TypeOf<T>());
            Assert.That(error?.Message, message);
            Assert.That(bytes, Is.LessThan(Small), "bytes allocated before the refusal");
        });
    }

    [Test]
    public void TinySafetensors_ClaimingAHugeMlp_IsRefusedBeforeTheModelIsBuilt()
    {
        using var dir = new TempDir();
        var path = dir.File("tiny.safetensors");
        File.WriteAllBytes(path, HostileFiles.SafeTensors(
            """{"__metadata__":{"woodfisher.arch":"mlp:46000-46000-10"},"fc1.weight":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]}}""",
            new byte[4]));
        AssertRefusedCheaply<InvalidDataException>(() => ModelFiles.Load(path), Does.Contain(path).And.Contain("mlp:46000-46000-10").And.Contain("2,116,506,010 parameters").And.Contain("1 values"));
    }

    [TestCase("cifarnet:3x100000x100000", "more than one array can hold")]
    [TestCase("lenet5:1x2147483647x2147483647", "more than one array can hold")]
    [TestCase("resnet20:3x70000x70000", "more than one array can hold")]
    [TestCase("lenet5:1x8x8", "at least 12x12")]
    [TestCase("mlp:784-x-10", "'x' is not a positive integer")]
    [TestCase("mlp:784-0-10", "'0' is not a positive integer")]
    [TestCase("mlp:99999999999-10", "'99999999999' is not a positive integer")]
    [TestCase("mlp:2000000000-2000000000", "more than one array can hold")]
    public void HugeOrMalformedSpecs_AreRefusedWithTheSpecNamed(string spec, string why)
    {
        AssertRefusedCheaply<FormatException>(() => ModelFactory.Create(spec), Does.Contain(spec).And.Contain(why));
    }

    [Test]
    public void SpecBeyondTheBudget_IsRefusedWithTheBytes()
    {
        using var budget = MemoryBudget.Override(1 << 20);
        AssertRefusedCheaply<InsufficientMemoryException>(() => ModelFactory.Create("mlp:784-1000-10"), Does.Contain("mlp:784-1000-10").And.Contain("bytes"));
    }

    [TestCase("mlp:784-300-100-10")]
    [TestCase("mlp:784-40-20-10:nobias")]
    [TestCase("lenet5")]
    [TestCase("lenet5:3x32x30")]
    [TestCase("cifarnet")]
    [TestCase("cifarnet:1x28x28")]
    [TestCase("resnet20")]
    [TestCase("resnet20:1x28x28")]
    public void ParameterCount_EqualsTheBuiltModel(string spec)
    {
        var model = ModelFactory.Create(spec);
        Assert.That(ModelFactory.ParameterCount(spec), Is.EqualTo(model.Parameters.Sum(p => (long)p.Length)));
    }

    [Test]
    public void NpzMember_WhoseHeaderExceedsTheBudget_IsRefusedBeforeInflating()
    {
        var npz = HostileFiles.Npz("g", NdArray.Create(new float[4096]), compress: true);
        using var budget = MemoryBudget.Override(8 << 10);
        AssertRefusedCheaply<InsufficientMemoryException>(() => Npz.Read(new MemoryStream(npz), "g.npz"), Does.Contain("g.npz"));
    }

    [Test]
    public void NpzMember_InflatingPastItsDeclaredSize_IsCorrupt_AndStopsThere()
    {
        // A valid 144-byte npy of four floats, then 8 MiB of zeros (a few kB deflated); the archive declares 144 bytes.
        var npy = new MemoryStream();
        Npy.Write(npy, NdArray.Create(new float[4]));
        var content = npy.ToArray().Concat(new byte[8 << 20]).ToArray();
        var npz = HostileFiles.WithDeclaredSize(HostileFiles.Zip("z.npy", content, compress: true), (uint)npy.Length);

        // System.IO.Compression already stops inflating at the declared size; the CRC-32 then tells the member is corrupt.
        AssertRefusedCheaply<InvalidDataException>(() => Npz.Read(new MemoryStream(npz), "z.npz"), Does.StartWith("z.npz[z.npy]: ").And.Contain("the archive is corrupt"));
    }

    [Test]
    public void NpzMember_WhoseNpyHeaderClaimsMoreThanTheMemberHolds_IsRefusedBeforeAllocating()
    {
        var npy = new MemoryStream();
        Npy.Write(npy, NdArray.Create(new float[4]));
        var text = System.Text.Encoding.Latin1.GetString(npy.ToArray()).Replace("(4,)", "(9999999999,)", StringComparison.Ordinal);
        var zip = HostileFiles.Zip("w.npy", System.Text.Encoding.Latin1.GetBytes(text), compress: true);
        AssertRefusedCheaply<InvalidDataException>(() => Npz.Read(new MemoryStream(zip), "w.npz"), Does.Contain("w.npz[w.npy]").And.Contain("39999999996 data bytes"));
    }

    [Test]
    public void GzipIdx_DeclaringOneByte_StopsInflatingThere()
    {
        var gz = HostileFiles.Gzip(HostileFiles.Idx(0x08, [1], new byte[8 << 20]));
        AssertRefusedCheaply<InvalidDataException>(() => Idx.Read(new MemoryStream(gz), "one.gz"), Does.Contain("one.gz").And.Contain("continue past the 9 bytes"));
    }

    [Test]
    public void Idx_DeclaringMoreThanTheBudget_IsRefused()
    {
        using var budget = MemoryBudget.Override(1 << 20);
        var gz = HostileFiles.Gzip(HostileFiles.Idx(0x08, [60000, 28, 28], new byte[16]));
        AssertRefusedCheaply<InsufficientMemoryException>(() => Idx.Read(new MemoryStream(gz), "big.gz"), Does.Contain("big.gz").And.Contain("(60000, 28, 28)"));
    }

    [Test]
    public void Npy_LargerThanTheBudget_IsRefused()
    {
        var npy = new MemoryStream();
        Npy.Write(npy, NdArray.Create(new double[1 << 16]));
        npy.Position = 0;
        using var budget = MemoryBudget.Override(64 << 10);
        var error = Assert.Throws<InsufficientMemoryException>(() => Npy.Read(npy, "g.npy"));
        Assert.That(error!.Message, Does.Contain("g.npy").And.Contain("524,288 bytes"));
    }

    [Test]
    public void Safetensors_LargerThanTheBudget_IsRefused()
    {
        var bytes = HostileFiles.SafeTensors("""{"w":{"dtype":"F32","shape":[65536],"data_offsets":[0,262144]}}""", new byte[262144]);
        using var budget = MemoryBudget.Override(64 << 10);
        var error = Assert.Throws<InsufficientMemoryException>(() => SafeTensors.Read(new MemoryStream(bytes), "w.safetensors"));
        Assert.That(error!.Message, Does.Contain("w.safetensors").And.Contain("262,144 bytes"));
    }
}
