using WoodFisher.IO;

namespace WoodFisher.Models.Tests.IO;

public class AtomicFileTests
{
    [Test]
    public void AtomicFile_FailedWrite_LeavesOldContentAndNoTempFile()
    {
        using var dir = new TempDir();
        var path = dir.File("out.txt");
        AtomicFile.WriteAllText(path, "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write("partial"u8);
            throw new InvalidOperationException("boom");
        }));
        Assert.That(File.ReadAllText(path), Is.EqualTo("old"));
        Assert.That(Directory.GetFiles(dir.Path), Is.EqualTo(new[] { path }));
    }

    [Test]
    public void AtomicFile_Write_ReplacesAndCreatesDirectories()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "a", "b", "x.bin");
        AtomicFile.WriteAllBytes(path, [1, 2]);
        AtomicFile.WriteAllBytes(path, [3]);
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(new byte[] { 3 }));
    }

    [Test]
    public void Npy_WriteOfUnsupportedDType_LeavesNoFile()
    {
        using var dir = new TempDir();
        var bf16 = NdArray.Create(new ushort[] { 1 });
        Assert.Throws<NotSupportedException>(() => Npy.Write(dir.File("x.npy"), bf16));
        Assert.That(Directory.GetFiles(dir.Path), Is.Empty);
    }
}
