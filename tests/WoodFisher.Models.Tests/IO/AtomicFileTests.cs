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

    [Test]
    public void Temporaries_AreNamedWithPidAndTarget_SoLeftoversAreRecognisable()
    {
        using var dir = new TempDir();
        using var writer = AtomicFile.Open(dir.File("g.npy"));
        var temp = Directory.GetFiles(dir.Path).Single();
        Assert.That(Path.GetFileName(temp), Does.Match($@"^\.g\.npy\.woodfisher-{Environment.ProcessId}-[0-9a-f]{{32}}\.tmp$"));
    }

    // A leftover of a killed process (its pid no longer runs) is removed by the next write of the same target; a live
    // process's temporary and other files' temporaries are left alone.
    [Test]
    public void Open_RemovesStaleTemporariesOfDeadProcesses_Only()
    {
        using var dir = new TempDir();
        var dead = DeadPid();
        var stale = dir.File($".out.bin.woodfisher-{dead}-{Guid.NewGuid():N}.tmp");
        var live = dir.File($".out.bin.woodfisher-{Environment.ProcessId}-{Guid.NewGuid():N}.tmp");
        var other = dir.File($".other.bin.woodfisher-{dead}-{Guid.NewGuid():N}.tmp");
        foreach (var f in new[] { stale, live, other })
            File.WriteAllText(f, "x");
        AtomicFile.WriteAllBytes(dir.File("out.bin"), [1]);
        Assert.That(Directory.GetFiles(dir.Path).Select(Path.GetFileName), Is.EquivalentTo(new[] { "out.bin", Path.GetFileName(live), Path.GetFileName(other) }));
    }

    [Test]
    public void Group_RenamesNothingUntilCommit_ThenEverything()
    {
        using var dir = new TempDir();
        using (var group = AtomicFile.BeginGroup())
        {
            AtomicFile.WriteAllText(dir.File("a.txt"), "a");
            Npy.Write(dir.File("b.npy"), new float[] { 1, 2 }, 2);
            Assert.That(Directory.GetFiles(dir.Path).Select(Path.GetFileName), Has.None.EqualTo("a.txt").And.None.EqualTo("b.npy"));
            Assert.That(group.Targets.Select(Path.GetFileName), Is.EqualTo(new[] { "a.txt", "b.npy" }));
            group.Commit();
        }

        Assert.That(Directory.GetFiles(dir.Path).Select(Path.GetFileName), Is.EquivalentTo(new[] { "a.txt", "b.npy" }));
        Assert.That(Npy.Read(dir.File("b.npy")).GetData<float>(), Is.EqualTo(new float[] { 1, 2 }));
    }

    // All or nothing: a later file failing removes the earlier ones of the group, and an existing target keeps its content.
    [Test]
    public void Group_FailureOfALaterFile_LeavesNoneOfTheGroup()
    {
        using var dir = new TempDir();
        AtomicFile.WriteAllText(dir.File("a.txt"), "old");
        Assert.Throws<InvalidOperationException>(() =>
        {
            using var group = AtomicFile.BeginGroup();
            AtomicFile.WriteAllText(dir.File("a.txt"), "new");
            AtomicFile.Write(dir.File("b.txt"), _ => throw new InvalidOperationException("boom"));
            group.Commit();
        });
        Assert.That(Directory.GetFiles(dir.Path).Select(Path.GetFileName), Is.EqualTo(new[] { "a.txt" }));
        Assert.That(File.ReadAllText(dir.File("a.txt")), Is.EqualTo("old"));
        AtomicFile.WriteAllText(dir.File("c.txt"), "after");
        Assert.That(File.ReadAllText(dir.File("c.txt")), Is.EqualTo("after"), "a disposed group no longer defers writes");
    }

    [Test]
    public void CheckWritable_RefusesDirectoriesMissingDirectoriesAndOverlongNames_CreatingNothing()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("sub"));
        Assert.Multiple(() =>
        {
            Assert.That(() => AtomicFile.CheckWritable(dir.File("sub")), Throws.InstanceOf<IOException>().With.Message.Contains("is a directory"));
            Assert.That(() => AtomicFile.CheckWritable(Path.Combine(dir.Path, "missing", "x")), Throws.InstanceOf<IOException>().With.Message.Contains("does not exist"));
            Assert.That(() => AtomicFile.CheckWritable(dir.File(new string('n', 230))), Throws.InstanceOf<PathTooLongException>().With.Message.Contains("too long"));
        });
        AtomicFile.CheckWritable(dir.File("ok.bin"));
        Assert.That(Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName), Is.EqualTo(new[] { "sub" }));
    }

    private static int DeadPid()
    {
        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("true") { UseShellExecute = false })!;
        p.WaitForExit();
        return p.Id;
    }
}
